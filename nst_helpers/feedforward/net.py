"""Johnson, Alahi & Fei-Fei's image transformation network (2016), with instance normalisation
(Ulyanov et al. 2016) and resize-then-convolve upsampling (Odena et al. 2016: a transposed
convolution's uneven overlap paints a checkerboard; nearest x2 then a convolution cannot).

    photo (N, 3, H, W) in [0, 1] -> 9x9 conv (w) -> 3x3/2 (2w) -> 3x3/2 (4w) -> `blocks` residual
    blocks (4w) -> nearest x2, 3x3 (2w) -> nearest x2, 3x3 (w) -> 9x9 conv (3) -> sigmoid -> (N, 3, H, W)

Johnson et al.'s width is 32 (32, 64, 128 channels); `width` scales every layer, so a CPU can
train and run a smaller one (the cost goes with width squared). Every convolution pads by
reflection (no dark frame at the borders). Two stride-2 steps need sides divisible by 4: any
other size is reflection-padded up to the next multiple and cropped back (`core` is the network
on a padded picture: what the ONNX export holds).
"""
import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE = 4   # two stride-2 convolutions: a side divisible by 4 comes back at its own size
SMALLEST = 8   # px: a padded side at least this, so that every reflection padding fits (2 px after /4)
MAX_WIDTH, MAX_BLOCKS = 256, 64   # 8x Johnson et al.'s width, 13x their blocks: past these a typo or a forged file


def shape_problem(width, blocks) -> str | None:
    """Why a network of `width` and `blocks` (a training's, a model file's) is not one to build, or None."""
    for name, value, most in (("width", width, MAX_WIDTH), ("blocks", blocks, MAX_BLOCKS)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            return f"{name} must be a whole number from 1 to {most}, got {value!r}"
    return None


def conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """A convolution after reflection padding of kernel // 2: same size at stride 1."""
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride))


def norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True)


class Residual(nn.Module):
    """x + IN(conv(relu(IN(conv(x))))), channels kept (Johnson et al.'s block, without the crop)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv(channels, channels, 3), norm(channels), nn.ReLU(),
                                  conv(channels, channels, 3), norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 convolution, IN and ReLU: twice the size, no checkerboard."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.body = nn.Sequential(conv(c_in, c_out, 3), norm(c_out), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransformNet(nn.Module):
    """The transformation network: forward(photo (N, 3, H, W) in [0, 1]) -> (N, 3, H, W) in [0, 1]."""

    def __init__(self, width: int = 16, blocks: int = 5):
        super().__init__()
        if not (isinstance(width, int) and width >= 1 and isinstance(blocks, int) and blocks >= 0):
            raise ValueError(f"width must be an int >= 1 and blocks an int >= 0, got {width!r}, {blocks!r}; "
                             "e.g. width=16, blocks=5")
        self.width, self.blocks = width, blocks
        w = width
        self.down = nn.Sequential(conv(3, w, 9), norm(w), nn.ReLU(),
                                  conv(w, 2 * w, 3, 2), norm(2 * w), nn.ReLU(),
                                  conv(2 * w, 4 * w, 3, 2), norm(4 * w), nn.ReLU())
        self.res = nn.Sequential(*(Residual(4 * w) for _ in range(blocks)))
        self.up = nn.Sequential(Upsample(4 * w, 2 * w), Upsample(2 * w, w), conv(w, 3, 9))

    def core(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) with H, W divisible by MULTIPLE -> (N, 3, H, W) in [0, 1]."""
        return torch.sigmoid(self.up(self.res(self.down(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return self.core(pad(x))[..., :h, :w]


def padding(side: int) -> int:
    """How many pixels bring `side` up to a multiple of MULTIPLE, and to at least SMALLEST."""
    return max(SMALLEST - side, -side % MULTIPLE)


def pad(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) padded at the bottom and right to sides core() takes: by reflection, or by
    replication where the picture is too small to reflect (a pad must be smaller than the side)."""
    h, w = x.shape[-2:]
    pad_h, pad_w = padding(h), padding(w)
    if not (pad_h or pad_w):
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if pad_h < h and pad_w < w else "replicate")


def settings(net: TransformNet) -> dict:
    """What rebuilds the network's shape: TransformNet(**settings(net))."""
    return {"width": net.width, "blocks": net.blocks}
