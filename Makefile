# make demo : set up .venv (if missing or stale) and run the main job on the bundled images
# make test : the same set-up, then every test (unit tests + notebooks under nbval, smoke mode)
# TORCH=auto|cpu|default picks the torch build at set-up (tools/install_torch.py): auto = PyTorch's
# CPU build (~0.7 GB) when there is no NVIDIA GPU and its index is reachable, else the default
# wheels (~5 GB with CUDA). It applies when .venv is (re)built: `make clean-venv demo TORCH=cpu`.
SHELL := /bin/bash
PYTHON_SYS ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := $(VENV)/share/jupyter/kernels/python3/kernel.json
TORCH ?= auto
# torch's OpenMP threads sleep instead of spinning while they wait (nst_helpers/core/threads.py): with
# another busy process on the same cores, spinning threads made a run ~15x slower. Also in the kernel.
export OMP_WAIT_POLICY ?= PASSIVE
# CPU=avx2: run as a machine without AVX-512 runs (AVX2 kernels, so no native bf16 and no autocast):
# `make test CPU=avx2` tries the other kind of CI machine's path on this one (docs/testing.md)
ifeq ($(CPU),avx2)
export ATEN_CPU_CAPABILITY := avx2
export ONEDNN_MAX_CPU_ISA := AVX2
endif

.PHONY: demo test experiments benchmark lab data clean-venv

# Stale = no working interpreter, or pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	@if ! $(PY) -c 'import sys' 2>/dev/null; then rm -rf $(VENV) && $(PYTHON_SYS) -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) tools/install_torch.py --mode $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(KERNEL): $(STAMP) Makefile
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" \
	    --env OMP_WAIT_POLICY $(OMP_WAIT_POLICY) >/dev/null

demo: $(STAMP)
	$(PY) -m nst_helpers --content images/content.jpg --style images/style.jpg --preset fast

# OMP_NUM_THREADS=2: every test and notebook kernel on two threads, whatever the machine's cores, so
# that the notebooks' checked numbers (summed in the same order) are the same on every machine
test: $(STAMP) $(KERNEL)
	NST_SMOKE=1 MPLBACKEND=Agg OMP_NUM_THREADS=2 $(PY) -m pytest tests $(wildcard notebooks/*.ipynb) \
	    --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider --durations=10

experiments: $(STAMP) $(KERNEL)
	$(PY) -m nst_helpers.notebook.execute

benchmark: $(STAMP)
	$(PY) benchmarks/time_to_quality.py

# The offline clips and photos for notebooks' full settings and benchmarks (Debian's opencv-doc, via apt
# where it exists); the tests never need them.
data:
	bash tools/install_data.sh

lab: $(STAMP) $(KERNEL)
	$(VENV)/bin/jupyter lab notebooks/

clean-venv:
	rm -rf $(VENV)
