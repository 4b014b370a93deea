"""transfer.run's two hooks for a capability over the core (video/): `start`, the image the run starts
from instead of cfg.init, and `extra_loss`, a caller's term added to the total. Checked against the
objective computed by hand at the start image, and against a run without them."""
import pytest
import torch

from nst_helpers import preset, run
from nst_helpers.core.objective import StyleObjective
from nst_helpers.runs import checkpoint
from margins import above, below


def lite(**changes):
    return preset("fast", **{"size": 64, "steps": 4, "backbone": "efficientnet_lite0", **changes})


def test_the_run_starts_from_the_given_image(tiny_pair, effnet):
    content, style = tiny_pair
    start = (0.5 * content + 0.5 * torch.flip(content, dims=[-1])).clamp(0, 1)
    result = run(content, style, lite(), backbone=effnet, progress=False, start=start)
    by_hand, _ = StyleObjective(effnet, lite(), content, style)(start)   # L-BFGS: the first row is the start's loss
    assert result.history[0]["total"] == pytest.approx(by_hand.item(), rel=1e-4)
    plain = run(content, style, lite(), backbone=effnet, progress=False)
    assert plain.history[0]["total"] != pytest.approx(by_hand.item(), rel=1e-2)


def test_an_extra_loss_is_added_to_the_total_and_pulls_the_image(tiny_pair, effnet):
    content, style = tiny_pair
    target = torch.full_like(content, 0.5)
    pull = lambda image: 1e6 * ((image - target) ** 2).mean()  # noqa: E731: the hook is any callable
    result = run(content, style, lite(), backbone=effnet, progress=False, start=content, extra_loss=pull)
    base, parts = StyleObjective(effnet, lite(), content, style)(content)
    first = result.history[0]
    assert first["extra"] == pytest.approx(pull(content).item(), rel=1e-5)
    assert first["total"] == pytest.approx(base.item() + pull(content).item(), rel=1e-4)
    assert set(parts) == {"content", "style", "tv"}   # without the hook, the parts are as before
    free = run(content, style, lite(), backbone=effnet, progress=False, start=content)
    below(((result.image - target) ** 2).mean() / ((free.image - target) ** 2).mean(), 0.5, "distance to the hook's target, with / without")


def test_hooks_are_never_checkpointed(tiny_pair, effnet, tmp_path):
    content, style = tiny_pair
    for hooks in ({"start": content}, {"extra_loss": lambda image: image.mean()}):
        with pytest.raises(ValueError, match="not kept in checkpoints; leave checkpoints") as info:
            run(content, style, lite(), backbone=effnet, progress=False,
                checkpoints=checkpoint.Checkpoints(tmp_path), **hooks)
        assert "\n" not in str(info.value)
