"""The photo set a network trains on: a folder of photos (or a list of files), random crops,
flips and scales, drawn from one torch.Generator so that a run is reproducible from its seed and
a resumed run draws what the uninterrupted one would have (the generator's state is saved).

    photos = PhotoSet(find_photos("photos/"), crop=256)
    batch = photos.batch(4, generator)          # (4, 3, 256, 256) in [0, 1]

With no folder the bundled photos are used (bundled_photos): scikit-image's real photos and
Debian's opencv-doc sample photos, where installed. Never the evaluation photos.
"""
from pathlib import Path

import torch

from ..core.images import IMAGE_SUFFIXES, ImageError, load_image, resize_to

LONGEST = 768    # px: photos are read once at most this long, then scaled and cropped in memory
SCALES = (1.0, 2.0)   # a crop covers between 1/2 and all of a photo's shorter side (zoom in up to x2)
# not astronaut.png: it is images/content.jpg, the photo notebook 08 and the tests stylise as one never seen
SKIMAGE = ("chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg")
OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_PHOTOS = ("aero1", "aero3", "aloeL", "apple", "baboon", "building", "butterfly", "fruits",
                 "home", "leuvenA", "leuvenB", "messi5", "orange", "squirrel_cls", "stuff", "ela_original")
# colour photos only: not the chessboards (they would teach a grid), not starry_night (a painting),
# not HappyFish (clip art: flat colours and outlines)


class DataError(ValueError):
    """A photo set that cannot train a network, in one line with the fix."""


def find_photos(folder) -> list[Path]:
    """The image files directly in `folder`, sorted by name; DataError if it has none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--data {folder}: no such folder; give a folder of photos (.jpg, .png, ...)")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DataError(f"--data {folder} has no images ({', '.join(IMAGE_SUFFIXES)}); put photos in it "
                        "or give another folder")
    return paths


def bundled_photos() -> list[Path]:
    """scikit-image's photos and opencv-doc's, those that are installed (DataError if none is)."""
    found = []
    try:
        import skimage.data
        found += [Path(skimage.data.__file__).parent / n for n in SKIMAGE]
    except ImportError:
        pass
    found += [OPENCV / f"{n}.jpg" for n in OPENCV_PHOTOS]
    found = [p for p in found if p.is_file()]
    if not found:
        raise DataError("no bundled photos here (scikit-image's or opencv-doc's); pip install scikit-image, "
                        "or give a folder of photos with --data DIR")
    return found


def bundled_in_words() -> str:
    """Which bundled photos this machine has, in a line (notebook 08 prints it before training)."""
    found = bundled_photos()
    from_opencv = sum(OPENCV in p.parents for p in found)
    words = f"{len(found)} bundled photos ({len(found) - from_opencv} of scikit-image's, {from_opencv} of opencv-doc's)"
    if not from_opencv:
        words += f"; opencv-doc is not installed here: `make data` adds its {len(OPENCV_PHOTOS)} photos"
    return words


def split(paths: list, held: int = 2) -> tuple[list, list]:
    """(photos to train on, photos held back for previews): every k-th photo is held back, so the
    previews see photos the network never trained on (all of them when there are too few)."""
    if len(paths) <= held:
        return list(paths), list(paths)
    step = len(paths) // held
    back = [paths[i * step + step // 2] for i in range(held)]
    return [p for p in paths if p not in back], back


class PhotoSet:
    """Photos in memory (each at most LONGEST px), cut into random crops of `crop` px."""

    def __init__(self, paths, crop: int):
        self.crop = crop
        self.photos = [load_image(p, max_size=None) for p in paths]
        self.photos = [resize_to(x, _shape(x, LONGEST)) if max(x.shape[-2:]) > LONGEST else x for x in self.photos]
        usable = [x for x in self.photos if min(x.shape[-2:]) >= crop]
        if not usable:
            short = max(min(x.shape[-2:]) for x in self.photos)
            raise DataError(f"a crop of {crop} px is larger than every photo (the largest shorter side is {short} px); "
                            f"give --size {short} or less, or larger photos")
        self.photos = usable

    def sample(self, g: torch.Generator) -> torch.Tensor:
        """One random crop (1, 3, crop, crop): a photo, a scale in SCALES, a place, maybe mirrored."""
        photo = self.photos[int(torch.randint(len(self.photos), (1,), generator=g))]
        short = min(photo.shape[-2:])
        lo, hi = SCALES
        zoom = lo + (hi - lo) * float(torch.rand((), generator=g))
        side = max(self.crop, round(short / zoom))   # the photo's part that becomes the crop
        y = int(torch.randint(photo.shape[-2] - side + 1, (1,), generator=g))
        x = int(torch.randint(photo.shape[-1] - side + 1, (1,), generator=g))
        part = photo[..., y:y + side, x:x + side]
        part = resize_to(part, (self.crop, self.crop)) if side != self.crop else part
        return part.flip(-1) if bool(torch.rand((), generator=g) < 0.5) else part

    def batch(self, n: int, g: torch.Generator) -> torch.Tensor:
        """(n, 3, crop, crop) random crops."""
        return torch.cat([self.sample(g) for _ in range(n)])


def _shape(x: torch.Tensor, longest: int) -> tuple[int, int]:
    h, w = x.shape[-2:]
    scale = longest / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def load_photos(data, crop: int) -> tuple[PhotoSet, list]:
    """(the training PhotoSet, the held-back photos (1, 3, h, w) for previews) from a folder, a list
    of files or None (bundled_photos)."""
    paths = bundled_photos() if data is None else find_photos(data) if isinstance(data, (str, Path)) else list(data)
    train, held = split(paths)
    try:
        return PhotoSet(train, crop), [load_image(p, max_size=crop, min_size=1) for p in held]   # previews only
    except ImageError as err:
        raise DataError(str(err)) from None
