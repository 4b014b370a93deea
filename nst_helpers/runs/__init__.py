"""Around a run: its folder (folders), checkpoints and resume (checkpoint), the checks before it
(memory, duration), and what is measured and drawn after it (metrics, judge, plots)."""
