"""Generate images/mask_figure.png and images/mask_background.png: the astronaut of content.jpg
(head, suit, helmet) and everything else, for the spatial control of notebook 06 and --mask.

Drawn by hand as an ellipse and a polygon over the 512 x 512 photo (numbers read off the
picture), edges softened by 2 px so the styles meet without a seam. Run from the repo root:

    python images/make_masks.py
"""
import pathlib

from PIL import Image, ImageChops, ImageDraw, ImageFilter

HERE = pathlib.Path(__file__).parent
HEAD = (150, 12, 302, 192)    # the ellipse's box: hair, face, chin
BODY = [(120, 170), (110, 200), (75, 238), (42, 272), (28, 320), (20, 400), (22, 512), (512, 512),
        (512, 440), (496, 388), (462, 354), (410, 342), (366, 346), (360, 300), (346, 258), (306, 214),
        (302, 170)]           # collar ring, suit, arms and the helmet in front


def main() -> None:
    figure = Image.new("L", (512, 512), 0)
    draw = ImageDraw.Draw(figure)
    draw.ellipse(HEAD, fill=255)
    draw.polygon(BODY, fill=255)
    figure = figure.filter(ImageFilter.GaussianBlur(2))
    figure.save(HERE / "mask_figure.png", optimize=True)
    ImageChops.invert(figure).save(HERE / "mask_background.png", optimize=True)


if __name__ == "__main__":
    main()
