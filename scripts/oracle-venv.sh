#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment of the independent ASN.1 oracle used by
# `cargo test -p e2-asn1 --test oracle`: pycrate and asn1tools at pinned versions, installed
# from the package registry. Idempotent: when the venv already holds both pins it returns at
# once. Prints the venv's python path on its last line.
#
#   scripts/oracle-venv.sh [VENV_DIR]     (default: <repo>/.cache/asn1-oracle-venv)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.cache/asn1-oracle-venv}"
python="${PYTHON:-python3}"
pins=(pycrate==0.8.1 asn1tools==0.169.0)

ready() {
    [ -x "$venv/bin/python" ] &&
        "$venv/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m
assert m.version("pycrate") == "0.8.1"
assert m.version("asn1tools") == "0.169.0"
PY
}

# Several test binaries may ask at once: one makes the venv, the others wait for it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if ! ready; then
    command -v "$python" >/dev/null || { echo "oracle-venv: $python not found" >&2; exit 2; }
    mkdir -p "$(dirname "$venv")"
    # A half-made venv from an interrupted run is rebuilt from scratch.
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
    ready || { echo "oracle-venv: pins not importable after install" >&2; exit 1; }
fi
echo "$venv/bin/python"
