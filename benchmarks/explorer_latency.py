"""How long after clicking Run does the explorer show its first plotted update?

    .venv/bin/python benchmarks/explorer_latency.py [--full] [--size PX] [--preset NAME]

Drives the panel headlessly with its defaults (on a CPU: the `fast` preset, 256 px, backbone
auto), clicks Run and times the first change of the figure (the PNG of step 1: content |
style | result and the first loss point). The first click includes loading the backbone (a cold
start); the second reuses it (what a user sees from then on). --full also times a whole run.
"""
import argparse
import threading
import time

from nst_helpers.notebook.explorer import ExplorerPanel


def first_update(panel: ExplorerPanel, full: bool = False) -> dict:
    """Click Run; seconds to the first figure update (and to the end of the run with full=True)."""
    updated = threading.Event()
    stamps = []

    def seen(change):
        stamps.append(time.perf_counter())
        updated.set()

    panel.image.observe(seen, "value")
    t0 = time.perf_counter()
    panel.run_button.click()
    if not updated.wait(600):
        raise RuntimeError(f"no figure update within 600 s; status: {panel.status.value}")
    out = {"first_update_s": stamps[0] - t0}
    if not full:
        panel.stop()
    panel.wait(3600)
    panel.image.unobserve(seen, "value")
    if panel.error is not None:
        raise panel.error
    r = panel.result
    out.update(step1_elapsed_s=r.history[0]["elapsed"], steps=len(r.history), stop_reason=r.stop_reason,
               run_s=r.seconds, total_s=time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default=None, help="default: the panel's own (fast on a CPU)")
    ap.add_argument("--size", type=int, default=None, help="default: the preset's (256 for fast)")
    ap.add_argument("--full", action="store_true", help="also time a whole run (the second click)")
    args = ap.parse_args()
    panel = ExplorerPanel(args.preset, size=args.size)
    cfg = panel.config()
    print(f"panel default: {cfg.name}, {cfg.size} px, {cfg.steps} {cfg.optimizer} steps, backbone {cfg.backbone}, "
          f"device {panel.device}")
    for label, full in (("cold (loads the backbone)", False), ("warm (backbone loaded)", args.full)):
        r = first_update(panel, full)
        print(f"{label:28s} Run -> first plotted update: {r['first_update_s']:.2f} s "
              f"(step 1 itself: {r['step1_elapsed_s']:.2f} s)")
        if full:
            print(f"{'':28s} whole run: {r['steps']} steps ({r['stop_reason']}) in {r['run_s']:.1f} s, "
                  f"{r['total_s']:.1f} s from the click to the metrics")


if __name__ == "__main__":
    main()
