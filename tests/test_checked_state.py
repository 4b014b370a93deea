"""What a run is given is checked where it enters (issue 15): a config changed after preset()
is validated again when the run starts, a hand-edited checkpoint is refused in one line when it
is loaded, and a checkpoint writes only what changed since the last one."""
import math

import pytest
import torch

from nst_helpers import preset, run
from nst_helpers.cli import main
from nst_helpers.core.config import ConfigError
from nst_helpers.runs import checkpoint, folders
from test_bad_input import assert_one_line_error, assert_raises
from test_faults_storage import interrupted_folder


def lite(**changes):
    return preset("fast", **{"size": 64, "steps": 8, "backbone": "efficientnet_lite0", **changes})


def mutated(field, value, base=None):
    cfg = base or lite()
    setattr(cfg, field, value)   # after preset(): __post_init__ does not see it
    return cfg


MUTATED = [  # id, the config as changed, exception, words
    ("negative steps", lambda: mutated("steps", -5), ConfigError, ["'steps'", "integer >= 1", "-5"]),
    ("steps on a pyramid", lambda: mutated("steps", 10, preset("fast", size=256, backbone="efficientnet_lite0")),
     ConfigError, ["'scale_steps'", "must add up to steps=10", "cfg.replace(steps=N)"]),
    ("NaN style weight", lambda: mutated("style_weight", math.nan), ConfigError, ["'style_weight'", "finite"]),
    ("string layer weight", lambda: mutated("style_layers", {"conv1_1": "x"}), ConfigError, ["conv1_1", "number"]),
    ("unknown optimiser", lambda: mutated("optimizer", "sgd"), ConfigError, ["'optimizer'", "adam, lbfgs"]),
    ("a dict", lambda: lite().to_dict(), TypeError, ["StyleConfig", "from_dict"]),
]


@pytest.mark.parametrize("name, make, exc, words", MUTATED, ids=[m[0] for m in MUTATED])
def test_a_config_changed_after_preset_is_checked_when_the_run_starts(name, make, exc, words, tiny_pair, effnet):
    assert_raises(exc, lambda: run(*tiny_pair, make(), backbone=effnet, progress=False), *words)


def test_a_change_during_the_run_does_not_reach_it(tiny_pair, effnet):
    cfg = lite(steps=3)
    result = run(*tiny_pair, cfg, backbone=effnet, progress=False,
                 callbacks=[lambda step, row, image: setattr(cfg, "steps", -1)], callback_every=1)
    assert len(result.history) == 3 and result.config.steps == 3


# ------------------------------------------------------------------------------ edited checkpoints

def set_scale(key, value):
    return lambda saved: saved["scale"].__setitem__(key, value)


def poison_content(saved):
    saved["content"][0, 0, 0, 0] = math.nan


def resize_direction(saved):
    saved["scale"]["optimizer"]["state"][0]["d"] = torch.zeros(5)


EDITS = [  # id, the edit (a function of the payload), words of the refusal
    ("step past the budget", lambda s: s.__setitem__("step", 300), ["its step 300", "the run's 8 steps"]),
    ("step past the history", lambda s: s.__setitem__("step", 7), ["history", "each of its 7 steps"]),
    ("z of another size", set_scale("z", torch.zeros(1, 3, 10, 10)), ["differ in shape"]),
    ("random state", lambda s: s.__setitem__("rng", torch.zeros(10, dtype=torch.uint8)), ["random-number state"]),
    ("another preset's config", lambda s: s.__setitem__("config", preset("baseline").to_dict()),
     ["L-BFGS's", "config says adam"]),
    ("a bad config value", lambda s: s["config"].__setitem__("steps", -5), ["its config is not valid", "steps"]),
    ("a missing entry", lambda s: s.pop("history"), ["lacks history"]),
    ("a NaN pixel", poison_content, ["content holds NaN"]),
    ("optimiser state of another size", resize_direction, ["optimiser state does not fit"]),
    ("scale past its budget", set_scale("step", 9), ["scale is at step 9, past the run's step 3"]),
    ("unknown backbone", lambda s: s.__setitem__("backbone", "resnet50"), ["its backbone 'resnet50'"]),
]


@pytest.fixture(scope="module")
def resumable(tmp_path_factory, tiny_pair, effnet):
    return interrupted_folder(tmp_path_factory.mktemp("edited"), tiny_pair, effnet)[0]


def edited_copy(resumable, tmp_path, edit):
    import shutil
    folder = tmp_path / "run"
    shutil.copytree(resumable, folder)
    saved = torch.load(folder / folders.CHECKPOINT, weights_only=True)
    edit(saved)
    torch.save(saved, folder / folders.CHECKPOINT)
    return folder


@pytest.mark.parametrize("name, edit, words", EDITS, ids=[e[0] for e in EDITS])
def test_an_edited_checkpoint_is_refused_in_one_line(name, edit, words, resumable, tmp_path, effnet):
    folder = edited_copy(resumable, tmp_path, edit)
    assert_raises(checkpoint.ResumeError, lambda: checkpoint.resume(folder, backbone=effnet, progress=False),
                  f"cannot resume {folder}", *words, "was checkpoint.pt edited?", "start the run again")
    assert not folders.is_complete(folder) and (folder / folders.CHECKPOINT).is_file()   # nothing written


def test_an_edited_checkpoint_on_the_command_line(resumable, tmp_path, capsys):
    folder = edited_copy(resumable, tmp_path, EDITS[0][1])
    assert_one_line_error(main(["--resume", str(folder)]), capsys.readouterr().err, "its step 300", "edited?")


def test_a_missing_snapshot_file_is_named(resumable, tmp_path, effnet):
    folder = edited_copy(resumable, tmp_path, lambda s: None)
    (folder / folders.SNAPSHOT_DIR / "step_00002.pt").unlink()
    assert_raises(checkpoint.ResumeError, lambda: checkpoint.resume(folder, backbone=effnet, progress=False),
                  "checkpoint-snapshots/step_00002.pt cannot be read")


# ------------------------------------------------------------------------------ linear costs

def test_each_snapshot_is_written_once_and_checkpoints_do_not_grow(tmp_path, tiny_pair, effnet, monkeypatch):
    writes, real = [], folders.save_tensors

    def counted(path, obj):
        writes.append(path.relative_to(tmp_path).as_posix())
        return real(path, obj)
    monkeypatch.setattr(folders, "save_tensors", counted)
    # Adam: its state has a constant size (L-BFGS's grows with its history, up to 20 directions)
    folder, _ = interrupted_folder(tmp_path, tiny_pair, effnet, snapshot_every=1, optimizer="adam", lr=0.01)
    sizes = [(folder / folders.CHECKPOINT).stat().st_size]
    checkpoint.resume(folder, backbone=effnet, progress=False,
                      callbacks=[lambda *a: sizes.append((folder / folders.CHECKPOINT).stat().st_size)],
                      callback_every=1)
    snaps = [w for w in writes if folders.SNAPSHOT_DIR in w]
    assert snaps == [f"cut/{folders.SNAPSHOT_DIR}/step_{s:05d}.pt" for s in range(1, 9)]  # once each, in order
    assert len([w for w in writes if w.endswith(folders.CHECKPOINT)]) == 9  # steps 0-8: one checkpoint each
    # a checkpoint holds no images of the snapshots: steps 3 and 8 differ by a few history rows
    assert max(sizes) < min(sizes) * 1.1, sizes
    assert folders.is_complete(folder) and not (folder / folders.SNAPSHOT_DIR).exists()
