#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment of the Open Inference Protocol test
# server used by `cargo test -p nf-oip` and `oipbench`: MLServer with every dependency at the
# exact versions of nf/oip/tests/server/requirements.lock, installed from PyPI. The venv
# remembers the sha256 of the lock it was made from; a different lock rebuilds it, an
# unchanged one returns at once. Prints the venv's python path on its last line.
#
#   scripts/oip-venv.sh [VENV_DIR]     (default: <repo>/.cache/oip-venv)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.cache/oip-venv}"
python="${PYTHON:-python3}"
lock="$root/nf/oip/tests/server/requirements.lock"
want="$(sha256sum "$lock" | cut -d' ' -f1)"

ready() {
    [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.lock-sha256" 2>/dev/null)" = "$want" ] &&
        "$venv/bin/python" -c 'import mlserver, onnxruntime' 2>/dev/null
}

# Several test binaries may ask at once: one makes the venv, the others wait for it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if ! ready; then
    command -v "$python" >/dev/null || { echo "oip-venv: $python not found" >&2; exit 2; }
    # A half-made venv, or one made from another lock, is rebuilt from scratch.
    rm -rf "$venv"
    started=$(date +%s)
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
    echo "$want" >"$venv/.lock-sha256"
    ready || { echo "oip-venv: mlserver / onnxruntime not importable after install" >&2; exit 1; }
    echo "oip-venv: made $venv in $(($(date +%s) - started)) s ($(du -sh "$venv" | cut -f1))" >&2
fi
echo "$venv/bin/python"
