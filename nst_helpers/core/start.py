"""What a run starts from: its settings (checked again), its images at the run's size and at each
pyramid level, and the first image the optimiser changes."""
import torch

from . import images
from .colour import match_colour
from .config import ConfigError, StyleConfig


def as_image(source, size: int, role: str = "given") -> torch.Tensor:
    """A tensor, path, PIL image or array -> (1, 3, H, W) on the CPU with the longest side `size`.

    Tensors: (C, H, W) or (1, C, H, W), C = 1, 3 or 4, any device; uint8 0-255 or float in
    [0, 1] (images.tensor_to_rgb checks them), resized bicubic with antialias. Everything else
    goes through images.load_image (LANCZOS). A bad input raises images.ImageError."""
    if isinstance(source, torch.Tensor):
        source = images.tensor_to_rgb(source, name=f"the {role} tensor")  # role: content or style
        h, w = source.shape[-2:]
        s = size / max(h, w)
        return images.resize_to(source, (max(1, round(h * s)), max(1, round(w * s))))
    return images.load_image(source, max_size=size)


def initial_image(cfg: StyleConfig, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The image the optimisation starts from: the content (seed), the content repainted in the
    style's colour statistics, the style, mid-gray, or uniform noise drawn from a generator seeded
    with cfg.seed (no process-wide random state is touched)."""
    if cfg.init == "gray":
        return torch.full_like(content, 0.5)
    if cfg.init == "noise":
        gen = torch.Generator().manual_seed(cfg.seed)
        return torch.rand(1, 3, *content.shape[-2:], generator=gen).to(content.device)
    if cfg.init == "content_in_style_colours":
        return match_colour(content, style)
    return content if cfg.init == "content" else style


def checked(config) -> StyleConfig:
    """A validated copy of `config` (default: the baseline): a field changed after preset() is
    checked again here, and the run is safe from changes made while it goes."""
    if config is None:
        return StyleConfig()
    if not isinstance(config, StyleConfig):
        raise TypeError(f"config must be a StyleConfig (e.g. nst_helpers.preset('fast')), not a "
                        f"{type(config).__name__}; for a dict use StyleConfig.from_dict(d)")
    try:
        return StyleConfig.from_dict(config.to_dict())
    except ConfigError as err:
        hint = " (to change steps, use cfg.replace(steps=N): it rescales the pyramid)" if err.field == "scale_steps" else ""
        raise ConfigError(err.field, err.why + hint) from None


def check_pooling(cfg: StyleConfig, net) -> None:
    """A given backbone that pools otherwise than cfg.pooling says (VGG19's max or avg): refused, not ignored."""
    own = getattr(net, "pooling", None)
    if own is not None and own != cfg.pooling:
        raise ConfigError("pooling", f"is {cfg.pooling!r} but the given backbone pools with {own!r}; load it with "
                                     f"load_backbone(name, pooling={cfg.pooling!r}), or leave backbone out")


def style_shape(shape: tuple, stroke_size: float) -> tuple:
    """The style image's (h, w) at a level of `shape`: the level's, times the stroke size."""
    return shape if stroke_size == 1 else tuple(max(1, round(n * stroke_size)) for n in shape)


def check_stroke(cfg: StyleConfig, levels: list, net) -> None:
    """A stroke size that makes the style image too small for the backbone at some level: refused."""
    h, w = style_shape(levels[0].shape, cfg.stroke_size)
    if min(h, w) < net.min_size:
        raise ConfigError("stroke_size", f"{cfg.stroke_size:g} makes the style image {w}x{h} px at the "
                          f"{levels[0].size} px scale, below the {net.min_size} px {net.name} needs; use a "
                          "larger stroke size or a larger size")


def style_images(style, size: int) -> list:
    """One style source, or a list or tuple of them -> a list of (1, 3, h, w) images (longest side `size`)."""
    sources = list(style) if isinstance(style, (list, tuple)) else [style]
    if not sources:
        raise ConfigError("style", "no style image given; pass one, or a list of them with cfg.style_blend")
    return [as_image(s, size, "style" if len(sources) == 1 else f"style {i + 1}") for i, s in enumerate(sources)]


def check_blend(cfg: StyleConfig, count: int) -> None:
    """cfg.style_blend must give one weight per style image."""
    if cfg.style_blend is not None and len(cfg.style_blend) != count:
        raise ConfigError("style_blend", f"gives {len(cfg.style_blend)} weight(s) for {count} style image(s); "
                          "give one weight per style image")


def given_start(start, extra_loss, content: torch.Tensor, checkpointed: bool) -> torch.Tensor | None:
    """A caller's start image (any source as_image takes) at the content's (h, w), or None. A start
    or an extra_loss with checkpoints (or resume_from) is refused: a function cannot be saved."""
    if checkpointed and (start is not None or extra_loss is not None):
        raise ValueError("start= and extra_loss= are not kept in checkpoints; leave checkpoints and resume_from "
                         "out with them (video/ resumes a clip frame by frame)")
    if start is None:
        return None
    image = as_image(start, max(content.shape[-2:]), "start")
    return image if image.shape[-2:] == content.shape[-2:] else images.resize_to(image, content.shape[-2:])
