"""tools/install_torch.py: which torch build the set-up installs, and why (dry runs only)."""
import importlib.util
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "install_torch.py"
_spec = importlib.util.spec_from_file_location("install_torch", SCRIPT)
install_torch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(install_torch)


def closed_port_url() -> str:
    """An index URL on a local port nobody listens on: connection refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/whl/cpu"


@pytest.fixture
def index_server():
    """A local stand-in for the CPU index that answers /whl/cpu/torch/."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == "/whl/cpu/torch/"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(b"<html>torch-2.5.1+cpu</html>" if ok else b"")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/whl/cpu"
    server.shutdown()
    server.server_close()


def dry_run(monkeypatch, capsys, argv, gpu=False):
    """main(argv) in-process with the GPU check fixed; installing anything fails the test."""
    monkeypatch.setattr(install_torch, "has_nvidia_gpu", lambda: gpu)
    monkeypatch.setattr(install_torch.subprocess, "call", lambda *a, **k: pytest.fail("a dry run ran pip"))
    monkeypatch.delenv("TORCH", raising=False)
    code = install_torch.main(["--dry-run", "--python", "PY", *argv])
    return code, capsys.readouterr().out.splitlines()


def test_an_unreachable_cpu_index_falls_back_to_the_default_wheels(monkeypatch, capsys):
    code, lines = dry_run(monkeypatch, capsys, ["--index-url", closed_port_url()])
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("[install] torch: default wheels") and "not reachable" in lines[0]
    assert "--index-url" not in lines[1] and "'torch>=2.4'" in lines[1] and "'torchvision>=0.19'" in lines[1]


def test_a_reachable_cpu_index_is_used_without_a_gpu(monkeypatch, capsys, index_server):
    code, lines = dry_run(monkeypatch, capsys, ["--index-url", index_server])
    assert code == 0 and lines[0].startswith("[install] torch: CPU build") and "reachable" in lines[0]
    assert lines[1].endswith(f"--index-url {index_server}")


def test_a_gpu_keeps_the_default_wheels_without_probing(monkeypatch, capsys):
    monkeypatch.setattr(install_torch, "reachable", lambda *a, **k: pytest.fail("probed with a GPU present"))
    code, lines = dry_run(monkeypatch, capsys, [], gpu=True)
    assert code == 0 and "default wheels" in lines[0] and "NVIDIA GPU is present" in lines[0]


@pytest.mark.parametrize("mode, expect_index", [("cpu", True), ("default", False)])
def test_torch_forces_either_build_whatever_the_probe_says(monkeypatch, capsys, index_server, mode, expect_index):
    for url in (index_server, closed_port_url()):
        monkeypatch.setenv("TORCH", mode)  # as the Makefile passes it on
        monkeypatch.setattr(install_torch, "has_nvidia_gpu", lambda: mode == "cpu")  # against the grain
        code = install_torch.main(["--dry-run", "--python", "PY", "--index-url", url, "--mode", mode])
        lines = capsys.readouterr().out.splitlines()
        assert code == 0 and f"forced with TORCH={mode}" in lines[0]
        assert (f"--index-url {url}" in lines[1]) is expect_index


def test_a_bad_mode_is_one_line_and_exit_2(capsys):
    assert install_torch.main(["--dry-run", "--mode", "gpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: TORCH='gpu': choose auto, cpu or default"]


def test_the_probe_reports_why_an_index_did_not_answer(index_server):
    assert install_torch.reachable(index_server, timeout=5) is None
    assert "404" in install_torch.reachable(index_server + "/nothing", timeout=5)
    assert "refused" in install_torch.reachable(closed_port_url(), timeout=5).lower()


def test_the_script_runs_standalone_and_the_makefile_passes_torch_on():
    p = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--mode", "default"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.count("\n") == 2 and "forced with TORCH=default" in p.stdout
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for torch, mode in (("cpu", "cpu"), (None, "auto")):
        extra = [f"TORCH={torch}"] if torch else []
        plan = subprocess.run(["make", "-n", "-B", ".venv/.installed", *extra], cwd=ROOT, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin"}).stdout
        assert f"tools/install_torch.py --mode {mode}" in plan
        assert plan.index("install_torch.py") < plan.index("pip install -q -e")  # torch before the project
