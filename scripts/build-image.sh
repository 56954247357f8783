#!/usr/bin/env bash
# Builds the container image of one xApp (or of all three) without pulling anything from an
# image registry: the image starts FROM scratch and holds only what this script copies into
# it from this machine:
#
#   /usr/local/bin/<app>                      the binary, stripped
#   /usr/lib/x86_64-linux-gnu, /usr/lib64     the shared libraries it and onnxruntime load
#                                             (found with ldd, copied from Debian's packages;
#                                             their copyright files under /usr/share/doc)
#   /opt/onnxruntime/lib/libonnxruntime.so    the pinned onnxruntime (scripts/fetch-onnxruntime.sh)
#   /opt/airan/models/<model>/                the ONNX models, contracts and model cards
#   /etc/airan/config/<app>.toml              the default config (the Kubernetes base's)
#   /etc/passwd, /etc/group                   user and group airan, 10001
#   /var/lib/airan                            working directory, owned by 10001 (decision logs)
#
# Usage: scripts/build-image.sh [--app slice-xapp|interference-xapp|conflict-mgr|all]
#          [--profile release|debug] [--bin-dir DIR] [--version V] [--save]
#
#   --bin-dir DIR   take the binaries from DIR instead of building them (the image test uses
#                   the binaries cargo test already built)
#   --save          also write target/image/<app>-<version>.oci.tar (podman save, OCI archive)
#
# The container tool is podman (Debian package `podman`); PODMAN overrides the command and its
# global flags, e.g. PODMAN="podman --root /tmp/store --storage-driver vfs". The images are
# tagged localhost/airan/<app>:<version>; retag and push them to the cluster's registry (see
# docs/operations.md, "The container image").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
APP=all
PROFILE=release
BIN_DIR=
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
SAVE=0
PODMAN=${PODMAN:-podman}
UID_GID=10001
ORT_VERSION=1.31.1

die() { echo "build-image: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --app) APP=${2:?--app needs a value}; shift 2 ;;
    --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
    --bin-dir) BIN_DIR=${2:?--bin-dir needs a value}; shift 2 ;;
    --version) VERSION=${2:?--version needs a value}; shift 2 ;;
    --save) SAVE=1; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

case $APP in
  all) APPS=(slice-xapp interference-xapp conflict-mgr) ;;
  slice-xapp|interference-xapp|conflict-mgr) APPS=("$APP") ;;
  *) die "--app $APP: expected slice-xapp, interference-xapp, conflict-mgr or all" ;;
esac
case $PROFILE in
  release|debug) ;;
  *) die "--profile $PROFILE: expected release or debug" ;;
esac
[ -n "$VERSION" ] || die "cannot read the workspace version from Cargo.toml"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 images are built by this script (found $(uname -m))"
command -v ${PODMAN%% *} >/dev/null || die "${PODMAN%% *} not found: install Debian's podman (apt-get install podman)"
for tool in ldd strip dpkg-query; do
  command -v $tool >/dev/null || die "$tool not found"
done

"$ROOT/scripts/fetch-onnxruntime.sh"
ORT_LIB=$ROOT/.cache/onnxruntime/$ORT_VERSION/libonnxruntime.so.$ORT_VERSION
[ -f "$ORT_LIB" ] || die "onnxruntime $ORT_VERSION is not at $ORT_LIB"

if [ -z "$BIN_DIR" ]; then
  pkgs=()
  for a in "${APPS[@]}"; do
    case $a in
      slice-xapp) pkgs+=(-p slice-xapp --bin slice-xapp) ;;
      interference-xapp) pkgs+=(-p interference-xapp --bin interference-xapp) ;;
      conflict-mgr) pkgs+=(-p nf-conflict --bin conflict-mgr) ;;
    esac
  done
  profile_flag=(--release)
  [ "$PROFILE" = debug ] && profile_flag=()
  (cd "$ROOT" && cargo build --locked "${profile_flag[@]}" "${pkgs[@]}")
  BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
fi

# The models, config and config variable of each app.
models_of() {
  case $1 in
    slice-xapp) echo slice_forecaster slice_policy ;;
    interference-xapp) echo interference ;;
    conflict-mgr) ;;
  esac
}
config_env_of() {
  case $1 in
    slice-xapp) echo SLICE_XAPP_CONFIG ;;
    interference-xapp) echo INTERFERENCE_XAPP_CONFIG ;;
    conflict-mgr) echo CONFLICT_MGR_CONFIG ;;
  esac
}
port_of() {
  case $1 in
    slice-xapp) echo 9464 ;;
    interference-xapp) echo 9465 ;;
    conflict-mgr) echo 7070 ;;
  esac
}

# Copies a shared library (symlinks resolved) to the image's multiarch folder, once.
copy_lib() {
  local soname=$1 path=$2 rootfs=$3 dest
  case $soname in
    ld-linux-*) dest=$rootfs/usr/lib64/$soname ;;
    *) dest=$rootfs/usr/lib/x86_64-linux-gnu/$soname ;;
  esac
  [ -e "$dest" ] && return 0
  cp -L "$path" "$dest"
  chmod 0755 "$dest"
  echo "$(readlink -f "$path")" >>"$rootfs/.libs"
}

# Copies what ldd says ELF file $1 loads.
copy_deps() {
  local elf=$1 rootfs=$2 line soname path
  while read -r line; do
    case $line in
      *"=> not found"*) die "$elf needs ${line%% *}, which this machine lacks" ;;
      *"=> /"*) soname=${line%% *}; path=${line#*=> }; path=${path%% (*}; copy_lib "$soname" "$path" "$rootfs" ;;
      /*ld-linux*) path=${line%% (*}; copy_lib "$(basename "$path")" "$path" "$rootfs" ;;
    esac
  done < <(ldd "$elf")
}

# The Debian package that owns library $1 (merged /usr: try the path and its /usr twin).
package_of() {
  local p=$1 pkg
  for candidate in "$p" "${p#/usr}" "/usr$p"; do
    pkg=$(dpkg-query -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && { echo "$pkg"; return; }
  done
  echo unknown
}

REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)

for app in "${APPS[@]}"; do
  bin=$BIN_DIR/$app
  [ -x "$bin" ] || die "$bin is not an executable (build it, or point --bin-dir at it)"
  ctx=$ROOT/target/image/$app
  rootfs=$ctx/rootfs
  rm -rf "$ctx"
  mkdir -p "$rootfs"/{usr/local/bin,usr/lib/x86_64-linux-gnu,usr/lib64,etc/airan/config,tmp,var/lib,usr/share/doc/airan} "$ctx/state/airan"
  ln -s usr/lib "$rootfs/lib"
  ln -s usr/lib64 "$rootfs/lib64"
  chmod 1777 "$rootfs/tmp"
  : >"$rootfs/.libs"

  strip --strip-debug -o "$rootfs/usr/local/bin/$app" "$bin"
  chmod 0755 "$rootfs/usr/local/bin/$app"
  copy_deps "$bin" "$rootfs"

  env_lines=()
  models=$(models_of "$app")
  if [ -n "$models" ]; then
    mkdir -p "$rootfs/opt/onnxruntime/lib"
    cp "$ORT_LIB" "$rootfs/opt/onnxruntime/lib/"
    ln -s "libonnxruntime.so.$ORT_VERSION" "$rootfs/opt/onnxruntime/lib/libonnxruntime.so"
    copy_deps "$ORT_LIB" "$rootfs"
    env_lines+=("ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so")
    for m in $models; do
      mkdir -p "$rootfs/opt/airan/models/$m"
      for f in "$ROOT/models/$m"/*.onnx "$ROOT/models/$m"/*.contract.toml "$ROOT/models/$m/MODEL_CARD.md" "$ROOT/models/$m/metrics.json"; do
        [ -f "$f" ] && cp "$f" "$rootfs/opt/airan/models/$m/"
      done
    done
  fi
  cp "$ROOT/xapps/deploy/kubernetes/base/config/$app.toml" "$rootfs/etc/airan/config/"
  var=$(config_env_of "$app")
  [ -n "$var" ] && env_lines+=("$var=/etc/airan/config/$app.toml")

  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nairan:x:%s:%s:AI-RAN xApp:/var/lib/airan:/usr/sbin/nologin\n' $UID_GID $UID_GID >"$rootfs/etc/passwd"
  printf 'root:x:0:\nairan:x:%s:\n' $UID_GID >"$rootfs/etc/group"

  # Provenance and licences: the project's licence, onnxruntime's version, and each copied
  # library with its Debian package, version and copyright file.
  cp "$ROOT/LICENSE" "$rootfs/usr/share/doc/airan/LICENSE"
  {
    echo "# What this image holds besides the project's own files (built by scripts/build-image.sh)."
    echo "airan $app $VERSION revision $REVISION"
    [ -n "$models" ] && echo "onnxruntime $ORT_VERSION (PyPI wheel onnxruntime==$ORT_VERSION, MIT licence)"
    sort -u "$rootfs/.libs" | while read -r lib; do
      pkg=$(package_of "$lib")
      ver=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || echo unknown)
      echo "$(basename "$lib") debian:$pkg $ver"
      if [ -f "/usr/share/doc/$pkg/copyright" ] && [ ! -f "$rootfs/usr/share/doc/$pkg/copyright" ]; then
        mkdir -p "$rootfs/usr/share/doc/$pkg"
        cp "/usr/share/doc/$pkg/copyright" "$rootfs/usr/share/doc/$pkg/"
      fi
    done
  } >"$rootfs/usr/share/doc/airan/contents.txt"
  rm "$rootfs/.libs"

  {
    echo "# Generated by scripts/build-image.sh; not a registry base image: everything is copied in."
    echo "FROM scratch"
    echo "COPY rootfs/ /"
    echo "COPY --chown=$UID_GID:$UID_GID state/ /var/lib/"
    for e in "${env_lines[@]}"; do echo "ENV $e"; done
    echo "USER $UID_GID:$UID_GID"
    echo "WORKDIR /var/lib/airan"
    echo "EXPOSE $(port_of "$app")"
    echo "ENTRYPOINT [\"/usr/local/bin/$app\"]"
    echo "LABEL org.opencontainers.image.title=\"$app\" \\"
    echo "      org.opencontainers.image.version=\"$VERSION\" \\"
    echo "      org.opencontainers.image.revision=\"$REVISION\" \\"
    echo "      org.opencontainers.image.licenses=\"Apache-2.0\" \\"
    echo "      org.opencontainers.image.description=\"AI-RAN $app (near-RT RIC)\""
  } >"$ctx/Containerfile"

  tag=localhost/airan/$app:$VERSION
  echo "build-image: building $tag from $ctx" >&2
  $PODMAN build --quiet --timestamp "$EPOCH" --tag "$tag" --file "$ctx/Containerfile" "$ctx" >/dev/null
  size=$($PODMAN image inspect --format '{{.Size}}' "$tag")
  echo "build-image: $tag built ($((size / 1024 / 1024)) MiB)" >&2
  if [ $SAVE = 1 ]; then
    $PODMAN save --format oci-archive --output "$ROOT/target/image/$app-$VERSION.oci.tar" "$tag"
    echo "build-image: wrote target/image/$app-$VERSION.oci.tar" >&2
  fi
  echo "$tag"
done
