#!/usr/bin/env bash
# Fetches libonnxruntime.so 1.31.1 (CPU build) from the `onnxruntime` wheel on PyPI and
# places it under .cache/onnxruntime/1.31.1/, where the runtime looks by default.
# Pinned by version and sha256; idempotent; no root needed. ORT_DYLIB_PATH overrides the
# location at run time (e.g. for a CUDA/TensorRT build of onnxruntime).
set -euo pipefail

VERSION=1.31.1
WHEEL=onnxruntime-${VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl
SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$ROOT/.cache/onnxruntime/$VERSION
LIB=$DEST/libonnxruntime.so.$VERSION

if [ -f "$LIB" ]; then
  exit 0
fi
if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "fetch-onnxruntime: only Linux x86_64 is automated; install onnxruntime $VERSION and set ORT_DYLIB_PATH to its libonnxruntime.so" >&2
  exit 1
fi
PY=$(command -v python3 || true)
if [ -z "$PY" ] || ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "fetch-onnxruntime: needs python3 with pip to download the onnxruntime wheel from PyPI (apt-get install python3-pip), or set ORT_DYLIB_PATH" >&2
  exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "fetch-onnxruntime: downloading onnxruntime $VERSION wheel from PyPI" >&2
if ! "$PY" -m pip download --quiet --no-deps --only-binary=:all: \
     --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
     -d "$TMP" "onnxruntime==$VERSION"; then
  echo "fetch-onnxruntime: pip could not download onnxruntime==$VERSION (is PyPI reachable?); or set ORT_DYLIB_PATH" >&2
  exit 1
fi
GOT=$(sha256sum "$TMP/$WHEEL" | cut -d' ' -f1)
if [ "$GOT" != "$SHA256" ]; then
  echo "fetch-onnxruntime: $WHEEL has sha256 $GOT, expected $SHA256; refusing it" >&2
  exit 1
fi
mkdir -p "$DEST"
"$PY" - "$TMP/$WHEEL" "$DEST" <<'PYEOF'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = name.rsplit("/", 1)[-1]
        if name.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime"):
            with z.open(name) as src, open(f"{dest}/{base}", "wb") as out:
                out.write(src.read())
PYEOF
ln -sf "libonnxruntime.so.$VERSION" "$DEST/libonnxruntime.so"
echo "fetch-onnxruntime: placed $LIB" >&2
