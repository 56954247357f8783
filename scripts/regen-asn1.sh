#!/usr/bin/env bash
# Regenerates nf/asn1/src/generated/*.rs from the O-RAN ASN.1 modules in
# ../shared/interop/asn1 (not shipped here: O-RAN copyright). The drift test
# `cargo test -p e2-asn1-gen --test drift` fails when the checked-in files differ.
set -euo pipefail
cd "$(dirname "$0")/.."
asn1="${ASN1_DIR:-../shared/interop/asn1}"
[ -d "$asn1" ] || { echo "regen-asn1: $asn1 not found (set ASN1_DIR)" >&2; exit 1; }
cargo run --quiet --locked -p e2-asn1-gen -- "$asn1" nf/asn1/src/generated
