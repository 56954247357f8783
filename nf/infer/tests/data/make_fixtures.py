#!/usr/bin/env python3
"""Writes the tiny ONNX fixtures of the model-output tests, and their contracts.

Each fixture has the shipped forecaster's interface (input `kpm_window` float32
[batch, 8, 6], output `prb_demand` float32 [batch, 2]) and computes
`reshape(x, [batch, 48]) @ zeros(48, 2) + bias`, so every row of its output is `bias`:
NaN, +inf, -inf or 1e30.

The slice-policy fixtures (`policy_*`) have the policy interface (input `cell_state` float32
[batch, 3, 4, 6] for slices 1, 2, 3, output `slice_quota` float32 [batch, 3, 2]) and answer
the same quotas for every cell: `policy_fixed` valid ones (min 30/20/10, max 80/60/40
percent), `policy_nan` NaN, `policy_oversum` mins summing to 150. The ONNX protobuf is encoded by hand (standard library only), so
the script runs anywhere; `model_contract.rs` checks the committed files match its output.

    python3 nf/infer/tests/data/make_fixtures.py [--check]
"""

import hashlib
import math
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(HERE, "../../../../models/slice_forecaster/slice_forecaster.contract.toml")
WINDOW, FEATURES = 8, 6
FIXTURES = {
    "nan": math.nan,
    "pos_inf": math.inf,
    "neg_inf": -math.inf,
    "huge": 1e30,
}
FLOAT, INT64 = 1, 7  # TensorProto.DataType


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num: int, value) -> bytes:
    """One protobuf field: ints as varints, bytes/str as length-delimited."""
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def tensor(name: str, dtype: int, dims, raw: bytes) -> bytes:
    body = b"".join(field(1, d) for d in dims) + field(2, dtype) + field(8, name)
    return body + field(9, raw)


def value_info(name: str, dims) -> bytes:
    shape = b"".join(
        field(1, field(2, d) if isinstance(d, str) else field(1, d)) for d in dims
    )
    tensor_type = field(1, FLOAT) + field(2, shape)
    return field(1, name) + field(2, field(1, tensor_type))


def node(op: str, inputs, outputs, name: str = "") -> bytes:
    return (
        b"".join(field(1, i) for i in inputs)
        + b"".join(field(2, o) for o in outputs)
        + field(3, name or op.lower())
        + field(4, op)
    )


def model(bias: float) -> bytes:
    flat = WINDOW * FEATURES
    graph = b"".join(
        [
            field(1, node("Reshape", ["kpm_window", "flat_shape"], ["flat"])),
            field(1, node("MatMul", ["flat", "zeros"], ["product"])),
            field(1, node("Add", ["product", "bias"], ["prb_demand"])),
            field(2, "constant_forecaster"),
            field(5, tensor("flat_shape", INT64, [2], struct.pack("<2q", 0, -1))),
            field(5, tensor("zeros", FLOAT, [flat, 2], bytes(4 * flat * 2))),
            field(5, tensor("bias", FLOAT, [2], struct.pack("<2f", bias, bias))),
            field(11, value_info("kpm_window", ["batch", WINDOW, FEATURES])),
            field(12, value_info("prb_demand", ["batch", 2])),
        ]
    )
    opset = field(1, "") + field(2, 13)
    return field(1, 8) + field(2, "make_fixtures.py") + field(7, graph) + field(8, opset)


POLICY_WINDOW, POLICY_SLICES = 4, 3
POLICY_FIXTURES = {
    "policy_fixed": [30.0, 80.0, 20.0, 60.0, 10.0, 40.0],
    "policy_nan": [math.nan] * 6,
    "policy_oversum": [50.0, 60.0, 50.0, 60.0, 50.0, 60.0],
}
POLICY_CONTRACT = """# Test fixture written by make_fixtures.py: a slice policy answering constant quotas.
name = "constant-{name}"
version = "1.0.0"
kind = "slice_policy"
file = "{name}.onnx"
sha256 = "{digest}"
report_period_ms = 250
cell_prbs = 50
prb_scaling = "linear"
slices = ["1", "2", "3"]

[input]
name = "cell_state"
dtype = "float32"
shape = [-1, 3, 4, 6]
layout = "batch (one row per cell), slice (contract order), report window (oldest first), feature"
{features}
[[outputs]]
name = "slice_quota"
dtype = "float32"
shape = [-1, 3, 2]
unit = "percent"
columns = ["min_ratio", "max_ratio"]
meaning = "constant quotas of the fixture"
"""


def policy_model(quota) -> bytes:
    flat = POLICY_SLICES * POLICY_WINDOW * FEATURES
    graph = b"".join(
        [
            field(1, node("Reshape", ["cell_state", "flat_shape"], ["flat"])),
            field(1, node("MatMul", ["flat", "zeros"], ["product"])),
            field(1, node("Add", ["product", "bias"], ["sum"])),
            field(1, node("Reshape", ["sum", "out_shape"], ["slice_quota"], "unflatten")),
            field(2, "constant_policy"),
            field(5, tensor("flat_shape", INT64, [2], struct.pack("<2q", 0, -1))),
            field(5, tensor("zeros", FLOAT, [flat, 6], bytes(4 * flat * 6))),
            field(5, tensor("bias", FLOAT, [6], struct.pack("<6f", *quota))),
            field(5, tensor("out_shape", INT64, [3], struct.pack("<3q", 0, POLICY_SLICES, 2))),
            field(11, value_info("cell_state", ["batch", POLICY_SLICES, POLICY_WINDOW, FEATURES])),
            field(12, value_info("slice_quota", ["batch", POLICY_SLICES, 2])),
        ]
    )
    opset = field(1, "") + field(2, 13)
    return field(1, 8) + field(2, "make_fixtures.py") + field(7, graph) + field(8, opset)


POLICY_FEATURES = [
    ("RRU.PrbUsedDl", "PRB", "mean PRBs used per TTI in the window by the slice"),
    ("DRB.UEThpDl", "kbit/s", "summed DL UE throughput of the slice"),
    ("RRC.ConnMean", "UE", "UEs of the slice reporting in the window"),
    ("VS.DlBufferBytes", "byte", "vendor-specific: summed DL RLC buffer occupancy"),
    ("VS.PrbReqDl", "PRB", "vendor-specific: mean PRBs requested per TTI"),
    ("VS.DlCqiMean", "CQI", "vendor-specific: mean wideband DL CQI of the slice's UEs"),
]


def policy_contract(name: str, digest: str) -> str:
    features = "".join(
        f'\n[[input.features]]\nname = "{n}"\nunit = "{u}"\nmeaning = "{m}"\n'
        for n, u, m in POLICY_FEATURES
    )
    return POLICY_CONTRACT.format(name=name, digest=digest, features=features)


def contract(name: str, digest: str) -> str:
    text = open(SHIPPED).read()
    text = re.sub(r'(?m)^name = ".*"$', f'name = "constant-{name}"', text, count=1)
    text = re.sub(r'(?m)^file = ".*"$', f'file = "{name}.onnx"', text, count=1)
    text = re.sub(r'(?m)^sha256 = ".*"$', f'sha256 = "{digest}"', text, count=1)
    head = f"# Test fixture written by make_fixtures.py: every output is {name}.\n"
    return head + text


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    builds = [(name, model(bias), contract) for name, bias in FIXTURES.items()]
    builds += [(name, policy_model(q), policy_contract) for name, q in POLICY_FIXTURES.items()]
    for name, onnx, write_contract in builds:
        files = {
            f"{name}.onnx": onnx,
            f"{name}.contract.toml": write_contract(name, hashlib.sha256(onnx).hexdigest()).encode(),
        }
        for file, data in files.items():
            path = os.path.join(HERE, file)
            if check:
                if not os.path.exists(path) or open(path, "rb").read() != data:
                    stale.append(file)
            else:
                with open(path, "wb") as f:
                    f.write(data)
    if stale:
        print("stale fixtures (rerun make_fixtures.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
