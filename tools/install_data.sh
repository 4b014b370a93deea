#!/usr/bin/env bash
# `make data`: the offline clips and photos that notebooks' full settings and benchmarks use (never the
# tests: they use what the project makes or ships). Debian's opencv-doc ships vtest.avi, tree.avi and
# Megamind.avi and some 25 photos under /usr/share/doc/opencv-doc/examples/data/. Installed with apt
# where it exists (as root, or with sudo); elsewhere one line says what to do instead.
set -u
DATA=/usr/share/doc/opencv-doc/examples/data
if [ -f "$DATA/vtest.avi" ]; then
    echo "[data] $DATA is here (vtest.avi, tree.avi, Megamind.avi and photos)"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "[data] no apt-get here: the notebooks use a generated clip; for a real one set clip_path in notebook 07 (any mp4/avi/gif)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "[data] not root and no sudo: ask for Debian's opencv-doc package (apt-get install opencv-doc)"; exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq opencv-doc >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq opencv-doc >/dev/null; } \
    || { echo "[data] apt-get could not install opencv-doc (no package index reachable?): the notebooks use a generated clip"; exit 0; }
echo "[data] installed opencv-doc: $DATA"
