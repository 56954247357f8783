"""Writes the slice-policy TEST FIXTURES of xapps/slice-sched/tests/policy_arm.rs.

These are not models: each answers fixed quotas whatever the cell's state (the input is
read, multiplied by zero, so the graph has the policy contract's real input and output),
so a test can tell which arm a control came from and feed the runtime outputs it must
refuse. The trained policy lives in models/slice_policy/.

Run from the repository root with the pinned env (models/requirements.txt):
    .cache/train-venv/bin/python xapps/slice-sched/tests/data/policy/make_fixtures.py
"""

import hashlib
import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
WINDOW = 8
FEATURES = [
    ("RRU.PrbUsedDl", "PRB", "mean PRBs used per TTI in the window by the slice"),
    ("DRB.UEThpDl", "kbit/s", "summed DL UE throughput of the slice"),
    ("RRC.ConnMean", "UE", "UEs of the slice reporting in the window"),
    ("VS.DlBufferBytes", "byte", "vendor-specific: summed DL RLC buffer occupancy"),
    ("VS.PrbReqDl", "PRB", "vendor-specific: mean PRBs requested per TTI"),
    ("VS.DlCqiMean", "CQI", "vendor-specific: mean wideband DL CQI of the slice's UEs"),
]
SLICES = ["1", "2", "3"]
NAN = math.nan

# (min_ratio, max_ratio) per contract slice 1, 2, 3, in percent.
FIXTURES = {
    # Valid quotas: what the controls of a policy arm must carry.
    "const": [(30, 70), (20, 50), (10, 40)],
    # Slice 2's min is NaN: cells with slice 2 are refused (model_output_nan), cells with
    # slice 1 only are served (a contract slice the cell lacks is ignored).
    "nan": [(30, 70), (NAN, 50), (10, 40)],
    # Slice 2's max is 120 %: model_output_out_of_range for cells with slice 2.
    "range": [(30, 70), (20, 120), (10, 40)],
    # Mins of slices 1 and 2 sum to 110 %: refused for cells with both, fine for slice 1.
    "summin": [(60, 80), (50, 60), (10, 40)],
}


def graph(name, quotas):
    x = helper.make_tensor_value_info(
        "cell_state", TensorProto.FLOAT, ["batch", len(SLICES), WINDOW, len(FEATURES)]
    )
    y = helper.make_tensor_value_info(
        "slice_quota", TensorProto.FLOAT, ["batch", len(SLICES), 2]
    )
    inits = [
        numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes_wf"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis_col"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
        numpy_helper.from_array(np.array(quotas, dtype=np.float32), "quotas"),
    ]
    nodes = [
        helper.make_node("ReduceSum", ["cell_state", "axes_wf"], ["per_slice"], keepdims=0),
        helper.make_node("Mul", ["per_slice", "zero"], ["zeros"]),
        helper.make_node("Unsqueeze", ["zeros", "axis_col"], ["zeros3"]),
        helper.make_node("Add", ["zeros3", "quotas"], ["slice_quota"]),
    ]
    g = helper.make_graph(nodes, f"policy_fixture_{name}", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    m.producer_name = "slice-xapp test fixture"
    onnx.checker.check_model(m)
    return m.SerializeToString()


def contract(name, sha):
    lines = [
        "# TEST FIXTURE (xapps/slice-sched/tests/data/policy/make_fixtures.py): fixed quotas,",
        "# not a model.",
        f'name = "test-policy-{name}"',
        'version = "0.0.1"',
        'kind = "slice_policy"',
        f'file = "{name}.onnx"',
        f'sha256 = "{sha}"',
        "report_period_ms = 250",
        "cell_prbs = 50",
        'prb_scaling = "linear"',
        "slices = [" + ", ".join(f'"{s}"' for s in SLICES) + "]",
        "",
        "[input]",
        'name = "cell_state"',
        'dtype = "float32"',
        f"shape = [-1, {len(SLICES)}, {WINDOW}, {len(FEATURES)}]",
        'layout = "batch (one row per cell), slice (contract order), window (oldest first), feature"',
    ]
    for n, unit, meaning in FEATURES:
        lines += ["", "[[input.features]]", f'name = "{n}"', f'unit = "{unit}"', f'meaning = "{meaning}"']
    lines += [
        "",
        "[[outputs]]",
        'name = "slice_quota"',
        'dtype = "float32"',
        f"shape = [-1, {len(SLICES)}, 2]",
        'unit = "percent"',
        'columns = ["min_ratio", "max_ratio"]',
        'meaning = "fixed test quotas per contract slice, percent of the cell DL PRBs"',
    ]
    return "\n".join(lines) + "\n"


def main():
    for name, quotas in FIXTURES.items():
        data = graph(name, quotas)
        (HERE / f"{name}.onnx").write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        (HERE / f"{name}.contract.toml").write_text(contract(name, sha))
        print(name, sha)


if __name__ == "__main__":
    main()
