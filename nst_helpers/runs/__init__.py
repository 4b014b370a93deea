"""Around a run: its folder (folders), checkpoints and resume (checkpoint), how long it will take
(duration), and what is measured and drawn after it (metrics, judge, plots). The memory check is
core/memory.py: transfer.run itself refuses a run that would not fit."""
