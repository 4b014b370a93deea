"""A command-line run's settings: a preset (--preset, default fast) or a JSON file (--config), then
every config field typed as a flag on top. No torch here: bad settings are refused before it loads.

--config takes either a plain config ({"steps": 300, "style_weight": 1e6, ...}, any StyleConfig
field, plus optional "content", "style" and "mask" image paths) or a run folder's config.json (its
"config", the backbone the run used, and the images it read): fed back, that reproduces the run,
bit for bit on the CPU. Relative paths in the file are relative to the file's folder.
"""
import argparse
import json
from pathlib import Path

from ..core.config import StyleConfig, preset
from ..runs import user_files

# config fields with a flag of the same name (--content-weight for content_weight, ...)
FIELD_FLAGS = ("steps", "size", "content_weight", "style_weight", "snapshot_every", "init", "seed", "preserve_colour",
               "stroke_size", "lr", "optimizer", "tv_weight", "style_layers", "adaptive_weights", "style_blend",
               "pooling", "tile_size")


class SettingsError(Exception):
    """Bad settings from the command line or a --config file: the line after 'error: '."""


def style_layers(text: str) -> dict:
    """--style-layers conv1_1=0.2,conv3_1=1 -> {"conv1_1": 0.2, "conv3_1": 1.0} (argparse type)."""
    out = {}
    for pair in text.split(","):
        name, eq, weight = pair.strip().partition("=")
        try:
            out[name.strip()] = float(weight)
        except ValueError:
            eq = ""
        if not eq or not name.strip():
            raise argparse.ArgumentTypeError(f"{pair.strip()!r} is not layer=weight; give pairs like "
                                             "conv1_1=0.2,conv3_1=1") from None
    return out


def read_config_file(path) -> tuple[dict, dict]:
    """(config fields, {"content": path, "style": path} found in it) from a --config file."""
    path = Path(path)
    try:
        data = json.loads(user_files.read_text(path))
    except user_files.NotASettingsFile as err:
        raise SettingsError(f"--config {path} {err}; give the path of a JSON file, e.g. a run folder's "
                            "config.json") from None
    except OSError as err:
        raise SettingsError(f"--config {path}: cannot read it ({err.strerror or err}); give the path of a JSON "
                            "file, e.g. a run folder's config.json") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise SettingsError(f"--config {path}: not valid JSON ({err}); fix it, or start from a run folder's "
                            "config.json") from None
    if not isinstance(data, dict):
        raise SettingsError(f"--config {path}: a JSON object is needed, {{\"steps\": 300, ...}}, not a "
                            f"{type(data).__name__}")
    fields = dict(data["config"]) if isinstance(data.get("config"), dict) else dict(data)
    if isinstance(data.get("config"), dict) and isinstance(data.get("backbone"), str):
        fields["backbone"] = data["backbone"]   # the backbone the run used ('auto' chose it then)
    images = {k: str(path.parent / data[k]) for k in ("content", "style") if isinstance(data.get(k), str)}
    for k in ("style", "mask"):   # several styles, blended or each with its mask
        if isinstance(data.get(k), list) and all(isinstance(p, str) for p in data[k]):
            images[k] = [str(path.parent / p) for p in data[k]]
    for k in ("content", "style", "mask"):
        fields.pop(k, None)
    return fields, images


def settings(args) -> tuple[StyleConfig, dict]:
    """(the run's config, its {"content", "style"} paths from a --config file). The field flags
    typed (not None) override the preset or the file; --seed only where it changes something."""
    cfg, images = _settings(args)
    if args.seed is not None and cfg.init != "noise":
        raise SettingsError(f"--seed changes only the noise an --init noise run starts from; this run starts from "
                            f"{cfg.init}, which is not random: leave --seed out (or add --init noise)")
    return cfg, images


def _settings(args) -> tuple[StyleConfig, dict]:
    given = {k: getattr(args, k) for k in FIELD_FLAGS if getattr(args, k) is not None}
    if given.get("content_weight") == 0 and given.get("style_weight") == 0:
        raise SettingsError("--content-weight 0 and --style-weight 0 leave nothing to optimise; "
                            "give at least one of them a positive weight")
    if args.config is None:
        backbone = {"backbone": args.backbone} if args.backbone is not None else {}
        # a short --steps gets a few snapshots (plan.snapshot_every), as everywhere
        return preset(args.preset or "fast", **backbone, **given), {}
    if args.preset is not None:
        raise SettingsError("--preset and --config both give the settings; use one of them")
    fields, images = read_config_file(args.config)
    try:
        cfg = StyleConfig.from_dict(fields)
    except (ValueError, TypeError) as err:   # ConfigError is a ValueError: the file's field, not a flag's
        raise SettingsError(f"--config {args.config}: {err}") from None
    if args.backbone is not None:
        given["backbone"] = args.backbone
    return cfg.replace(**given), images
