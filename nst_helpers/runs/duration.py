"""How long a run takes: one estimator for the command line, the notebooks, the explorer and the
README, and a note when a seed run was stopped long before its style could show.

    seconds = estimate(cfg, "efficientnet_lite0", "cpu")        # before a run: the measured table
    transfer.run(..., callbacks=[DurationEstimate(cfg)], callback_every=1)   # "[nst] about 8 min ..."
    early_end_note(cfg, len(result.history))        # "[nst] 30 of the baseline preset's 5000 steps: ..."

Both price a run the same way: seconds per megapixel of one optimiser step, times each pyramid
level's steps and pixels (core/plan.py). Before the run that rate, and the run's start-up, come
from STEP_COST (measured here with benchmarks/step_cost.py; an L-BFGS step's extra evaluations
are in its rate); during the run, from the run's own steps.
"""
import sys

from .. import backbones
from ..core import plan
from ..core.config import PRESET_TABLE, preset

PREVIEW = "--preset fast"
EARLY_SHARE = 0.2       # a seed run with under a fifth of its Adam steps still looks like the photo

# (seconds per megapixel-step, seconds of start-up) of runs measured here with benchmarks/step_cost.py:
# the rate from each level's steps after its first, the start-up (warm-up, targets) what a run took
# beyond it; 512 px, the bundled pair, the project's 2-core CPU, torch 2.14.1, a quiet machine.
# GPU figures: none measured; GPU_STEP_COST until a run measures its own.
STEP_COST = {
    ("efficientnet_lite0", "cpu", "adam"): (0.51, 1.1), ("efficientnet_lite0", "cpu", "lbfgs"): (0.72, 0.56),
    ("efficientnet_lite1", "cpu", "adam"): (0.74, 0.12), ("efficientnet_lite1", "cpu", "lbfgs"): (0.82, 0.61),
    ("efficientnet_lite2", "cpu", "adam"): (0.68, 0.18), ("efficientnet_lite2", "cpu", "lbfgs"): (0.93, 0.64),
    # VGG19 measured with the original weights (the same network as torchvision's, the same cost),
    # 2026-12-01 at load 1.4 (another tenant on the 2 cores); the Lite rows on a quiet machine
    ("vgg19", "cpu", "adam"): (8.4, 4.4), ("vgg19", "cpu", "lbfgs"): (7.7, 7.0),
    ("vgg19_original", "cpu", "adam"): (8.4, 4.4), ("vgg19_original", "cpu", "lbfgs"): (7.7, 7.0),
    # with bf16 autocast (mixed_precision, the VGG19 fast recipe's); a backbone not listed here
    # costs what it does in fp32 (bf16 does not speed up EfficientNet-Lite on a CPU)
    ("vgg19", "cpu", "adam", "bf16"): (5.2, 0.55), ("vgg19", "cpu", "lbfgs", "bf16"): (5.2, 4.1),
    ("vgg19_original", "cpu", "adam", "bf16"): (5.2, 0.55), ("vgg19_original", "cpu", "lbfgs", "bf16"): (5.2, 4.1),
}
GPU_STEP_COST = (0.02, 2.0)   # a rough figure for a CUDA or MPS device, replaced by a run's own


def seconds_for(levels: list, per_mpx_step: float, after_step: int = 0) -> float:
    """Seconds for the steps of `levels` (plan.Level) after step `after_step`, at `per_mpx_step`."""
    total, done = 0.0, 0
    for level in levels:
        left = max(0, min(level.steps, done + level.steps - after_step))
        total += left * level.pixels / 1e6 * per_mpx_step
        done += level.steps
    return total


def step_cost(backbone: str, device: str, optimizer: str, mixed: bool = False) -> tuple[float, float]:
    """STEP_COST's (s per Mpx-step, s of start-up) for a backbone name on a device ('cpu', 'cuda:0', ...),
    in bf16 (mixed) or fp32; a backbone not measured is priced as VGG19 (the heaviest)."""
    kind = str(device).split(":")[0]
    if kind != "cpu":
        return GPU_STEP_COST
    fp32 = STEP_COST.get((backbone, kind, optimizer), STEP_COST[("vgg19", "cpu", optimizer)])
    return STEP_COST.get((backbone, kind, optimizer, "bf16"), fp32) if mixed else fp32


def estimate(cfg, backbone: str | None = None, device: str = "cpu", content_hw=None,
             per_mpx_step: float | None = None, min_size: int = 1) -> float:
    """Seconds a run of `cfg` will take on `backbone` ('auto': the one it will most likely use)
    and `device`, for a content image (h, w) at cfg.size (None: square) and a backbone whose
    smallest side is `min_size` (the plan drops thinner levels). per_mpx_step: a rate measured
    by earlier runs (the explorer's), else the STEP_COST table."""
    name = backbone or cfg.backbone
    name = backbones.choose_backbone(name).name if name == "auto" else name
    per, start = (per_mpx_step, 0.0) if per_mpx_step is not None else step_cost(name, device, cfg.optimizer, cfg.mixed_precision)
    return start + seconds_for(plan.plan(cfg, content_hw, min_size), per)


def in_words(s: float) -> str:
    """Seconds in words a person reads at a glance: '< 1 s', '40 s', '8 min', '1.5 h'."""
    return "< 1 s" if s < 1 else f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


def _per_step(s: float) -> str:
    return f"{s:.2f} s" if s < 10 else f"{s:.0f} s"


def say(line: str) -> None:
    """Print a line on stdout without breaking a tqdm bar being drawn."""
    from tqdm import tqdm
    tqdm.write(line)
    sys.stdout.flush()


def seed_recipe(cfg) -> bool:
    """A seed preset run the seed's way: Adam from the photo (its style needs thousands of steps)."""
    return cfg.name in PRESET_TABLE and cfg.optimizer == "adam" and cfg.init == "content"


class DurationEstimate:
    """A transfer.run callback that estimates, from the run's own speed, how long the whole run
    takes (`seconds`, refreshed every step once measured) and prints it once if over
    `threshold_s`. The speed is measured over `after_steps` steps after a level's first (its
    warm-up) and priced over the remaining steps by each level's pixels (seconds_for, on the
    run's plan: transfer.run calls start(levels)). Works with any callback_every (1 estimates
    soonest). preview: how to get a quick look, named for seed-recipe runs (None: never)."""

    def __init__(self, cfg, print_fn=say, threshold_s: float = 60.0, after_steps: int = 3, preview: str | None = PREVIEW):
        self.cfg, self.print_fn, self.threshold_s, self.after_steps = cfg, print_fn, threshold_s, after_steps
        self.preview = preview if seed_recipe(cfg) else None
        self.levels = plan.plan(cfg)   # square until the run says its own (start)
        self.mark, self.seconds, self.printed = None, None, False   # mark: (step, elapsed, size)

    def start(self, levels: list) -> None:
        self.levels = list(levels)

    def left(self, elapsed: float) -> float | None:
        """Seconds still to go after `elapsed`, once there is an estimate."""
        return None if self.seconds is None else max(0.0, self.seconds - elapsed)

    def __call__(self, step: int, row: dict, image=None) -> None:
        size = row["size"]
        if self.mark is None or self.mark[2] != size:   # a level's first step: its warm-up
            self.mark = (step, row["elapsed"], size)
            return
        if step - self.mark[0] < self.after_steps:
            return
        level = next((lv for lv in self.levels if lv.size == size), self.levels[-1])
        per_step = (row["elapsed"] - self.mark[1]) / (step - self.mark[0])   # s a step at this level
        per_mpx = per_step / (level.pixels / 1e6)
        self.seconds = row["elapsed"] + seconds_for(self.levels, per_mpx, after_step=step)
        if not self.printed:
            self.printed = True
            self._say(per_mpx)

    def _say(self, per_mpx: float) -> None:
        if self.seconds <= self.threshold_s:
            return
        full = self.levels[-1]
        at = f" at {full.size} px" if len(self.levels) > 1 or full.size != self.mark[2] else ""
        hint = f"; for a preview in seconds use {self.preview}" if self.preview else ""
        self.print_fn(f"[nst] about {in_words(max(self.seconds, 1.0))} for {self.cfg.steps} steps "
                      f"({_per_step(per_mpx * full.pixels / 1e6)} a step{at} here){hint}")


def early_end_note(cfg, steps_run: int, preview: str = PREVIEW) -> str | None:
    """One line when a seed-recipe run ran far fewer steps than its preset's budget (its result
    still looks like the photo), else None."""
    if not seed_recipe(cfg):
        return None
    full = preset(cfg.name).steps
    if steps_run >= EARLY_SHARE * full:
        return None
    return (f"[nst] {steps_run} of the {cfg.name} preset's {full} steps: the result still looks like the photo; "
            f"the seed's style needs its full budget (or use {preview})")
