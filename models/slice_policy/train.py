#!/usr/bin/env python3
"""Fits the slice-scheduling policy to hindsight-oracle labels and exports it as ONNX.

Input: a dataset written by `policy_oracle` (testbed): `x.f32` (KPM windows per cell,
[N, slices, window, features]), `values.f32` (mean slice utility of each action over the
oracle's horizon, [N, actions]) and `meta.json` (shapes, feature names, the action set,
the oracle's settings, each sample's run and window).

Model: per-action value regression. Inputs go through log1p (counts, bytes and kbit/s
spread over orders of magnitude), are standardised with the training mean / std, and a
one-hidden-layer ReLU network predicts each action's utility relative to the mean over
actions. The policy takes the action with the highest prediction, unless it beats the
proportional action (action 0) by less than a margin chosen on the validation blocks. The
ONNX graph carries everything: normalisation, network, argmax, the action table, and the
weighted-proportional quota rule, so the xApp feeds raw KPM windows and reads quotas.

Splits: samples are grouped in blocks of 240 windows (60 s) of their run; every 5th block
(by a fixed hash) is validation, the rest training. Seeds are fixed (numpy 0).

    .cache/train-venv/bin/python models/slice_policy/train.py --data target/policy-data

Writes slice_policy.onnx, slice_policy.contract.toml and metrics.json next to this file.
"""

import argparse
import hashlib
import json
import os
import time
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCK = 240
HIDDEN = 64
EPOCHS = 150
BATCH = 256
LR = 1e-3
L2 = 1e-4
FLOOR, SPARE = 5.0, 85.0
UNITS = {
    "RRU.PrbUsedDl": ("PRB", "mean PRBs used per TTI in the window by the slice"),
    "DRB.UEThpDl": ("kbit/s", "summed DL UE throughput of the slice"),
    "RRC.ConnMean": ("UE", "UEs of the slice reporting in the window"),
    "VS.DlBufferBytes": ("byte", "vendor-specific: summed DL RLC buffer occupancy at the window's end"),
    "VS.PrbReqDl": ("PRB", "vendor-specific: mean PRBs per TTI the slice's backlog asked for"),
    "VS.DlCqiMean": ("CQI", "vendor-specific: mean wideband DL CQI of the slice's UEs"),
    "DRB.UEThpUl": ("kbit/s", "summed UL UE throughput of the slice"),
}


def load(data):
    meta = json.load(open(os.path.join(data, "meta.json")))
    n = meta["samples"]
    s, w, f = meta["row_shape"]
    x = np.fromfile(os.path.join(data, "x.f32"), dtype="<f4").reshape(n, s, w, f)
    a = len(meta["actions"]["weights"])
    v = np.fromfile(os.path.join(data, "values.f32"), dtype="<f4").reshape(n, a)
    return meta, x, v


def split(meta):
    val = np.array(
        [zlib.crc32(f"{run}/{k // BLOCK}".encode()) % 5 == 0 for run, k in meta["index"]]
    )
    return ~val, val


def phi(x):
    return np.log1p(np.maximum(x, 0.0)).reshape(len(x), -1).astype(np.float32)


class Net:
    def __init__(self, d, a, rng):
        self.w1 = (rng.standard_normal((d, HIDDEN)) * np.sqrt(2.0 / d)).astype(np.float32)
        self.b1 = np.zeros(HIDDEN, np.float32)
        self.w2 = (rng.standard_normal((HIDDEN, a)) * np.sqrt(1.0 / HIDDEN)).astype(np.float32)
        self.b2 = np.zeros(a, np.float32)

    def params(self):
        return [self.w1, self.b1, self.w2, self.b2]

    def forward(self, z):
        h = np.maximum(z @ self.w1 + self.b1, 0.0)
        return h, h @ self.w2 + self.b2


def fit(z, y, zv, vv, rng):
    """Adam on MSE to centred action values; keeps the epoch with the best validation
    policy value (mean utility of the argmax action)."""
    net = Net(z.shape[1], y.shape[1], rng)
    m = [np.zeros_like(p) for p in net.params()]
    s = [np.zeros_like(p) for p in net.params()]
    t = 0
    best = (-np.inf, None, -1)
    for epoch in range(EPOCHS):
        order = rng.permutation(len(z))
        for i in range(0, len(z), BATCH):
            idx = order[i : i + BATCH]
            h, out = net.forward(z[idx])
            g = 2.0 * (out - y[idx]) / len(idx)
            gw2 = h.T @ g + L2 * net.w2
            gb2 = g.sum(0)
            gh = (g @ net.w2.T) * (h > 0)
            gw1 = z[idx].T @ gh + L2 * net.w1
            gb1 = gh.sum(0)
            t += 1
            for j, (p, gp) in enumerate(zip(net.params(), [gw1, gb1, gw2, gb2])):
                m[j] = 0.9 * m[j] + 0.1 * gp
                s[j] = 0.999 * s[j] + 0.001 * gp * gp
                mh = m[j] / (1 - 0.9**t)
                sh = s[j] / (1 - 0.999**t)
                p -= (LR * mh / (np.sqrt(sh) + 1e-8)).astype(np.float32)
        _, pv = net.forward(zv)
        score = vv[np.arange(len(vv)), pv.argmax(1)].mean()
        if score > best[0]:
            best = (score, [p.copy() for p in net.params()], epoch)
    net.w1, net.b1, net.w2, net.b2 = best[1]
    return net, best[2]


def choose(pred, margin):
    p = pred.copy()
    p[:, 0] += margin
    return p.argmax(1)


def quotas_np(x, table, act, req):
    w = table[act]
    d = np.maximum(x[:, :, -1, req], 0.0)
    wd = w * d
    tot = wd.sum(1, keepdims=True)
    share = np.where(tot > 0, wd / np.maximum(tot, 1e-9), np.float32(1.0 / 3.0))
    mn = FLOOR + SPARE * share
    return np.stack([mn, np.full_like(mn, 100.0)], axis=2).astype(np.float32)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def export(path, net, mean, std, margin, table, shape, req):
    s, w, f = shape
    a = len(table)
    bias0 = np.zeros(a, np.float32)
    bias0[0] = margin
    inits = [
        const("zero", np.float32(0.0)),
        const("one", np.float32(1.0)),
        const("flat_shape", np.array([0, -1], np.int64)),
        const("mean", mean.astype(np.float32)),
        const("inv_std", (1.0 / std).astype(np.float32)),
        const("w1", net.w1),
        const("b1", net.b1),
        const("w2", net.w2),
        const("b2", (net.b2 + bias0).astype(np.float32)),
        const("table", table.astype(np.float32)),
        const("last", np.array(w - 1, np.int64)),
        const("req", np.array(req, np.int64)),
        const("axis1", np.array([1], np.int64)),
        const("axis2", np.array([2], np.int64)),
        const("tiny", np.float32(1e-9)),
        const("third", np.float32(1.0 / 3.0)),
        const("floor", np.float32(FLOOR)),
        const("spare", np.float32(SPARE)),
        const("hundred", np.float32(100.0)),
    ]
    n = helper.make_node
    nodes = [
        n("Max", ["cell_state", "zero"], ["pos"]),
        n("Add", ["pos", "one"], ["pos1"]),
        n("Log", ["pos1"], ["logx"]),
        n("Reshape", ["logx", "flat_shape"], ["flat"]),
        n("Sub", ["flat", "mean"], ["centred"]),
        n("Mul", ["centred", "inv_std"], ["z"]),
        n("MatMul", ["z", "w1"], ["h0"]),
        n("Add", ["h0", "b1"], ["h1"]),
        n("Relu", ["h1"], ["h"]),
        n("MatMul", ["h", "w2"], ["s0"]),
        n("Add", ["s0", "b2"], ["scores"]),
        n("ArgMax", ["scores"], ["action"], axis=1, keepdims=0),
        n("Gather", ["table", "action"], ["weights"], axis=0),
        n("Gather", ["cell_state", "last"], ["last_window"], axis=2),
        n("Gather", ["last_window", "req"], ["req_raw"], axis=2),
        n("Max", ["req_raw", "zero"], ["demand"]),
        n("Mul", ["weights", "demand"], ["wd"]),
        n("ReduceSum", ["wd", "axis1"], ["total"], keepdims=1),
        n("Max", ["total", "tiny"], ["total_safe"]),
        n("Div", ["wd", "total_safe"], ["share_busy"]),
        n("Greater", ["total", "zero"], ["busy"]),
        n("Where", ["busy", "share_busy", "third"], ["share"]),
        n("Mul", ["share", "spare"], ["spare_share"]),
        n("Add", ["spare_share", "floor"], ["min_ratio"]),
        n("Mul", ["min_ratio", "zero"], ["zeros"]),
        n("Add", ["zeros", "hundred"], ["max_ratio"]),
        n("Unsqueeze", ["min_ratio", "axis2"], ["min3"]),
        n("Unsqueeze", ["max_ratio", "axis2"], ["max3"]),
        n("Concat", ["min3", "max3"], ["slice_quota"], axis=2),
    ]
    graph = helper.make_graph(
        nodes,
        "slice_quota_policy",
        [helper.make_tensor_value_info("cell_state", TensorProto.FLOAT, ["batch", s, w, f])],
        [helper.make_tensor_value_info("slice_quota", TensorProto.FLOAT, ["batch", s, 2])],
        inits,
    )
    model = helper.make_model(
        graph, producer_name="models/slice_policy/train.py", opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    with open(path, "wb") as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()


def contract_text(meta, digest, shape):
    s, w, f = shape
    feats = "".join(
        f'\n[[input.features]]\nname = "{name}"\nunit = "{UNITS[name][0]}"\nmeaning = "{UNITS[name][1]}"\n'
        for name in meta["features"]
    )
    slices = ", ".join(f'"{x}"' for x in meta["slices"])
    return f"""# Contract of slice_policy.onnx, written by train.py. The runtime refuses the model when
# the file's sha256, its input/output names, shapes or element types differ.
name = "slice-quota-policy"
version = "1.0.0"
kind = "slice_policy"
file = "slice_policy.onnx"
sha256 = "{digest}"
report_period_ms = 250
# DL PRBs of the training carrier (the twin scenario); inputs with unit "PRB" are scaled by
# cell_prbs / RRU.PrbAvailDl on other cell sizes.
cell_prbs = {int(meta["cell_prbs"])}
prb_scaling = "linear"
# S-NSSAIs of the slice axis (SST 1 eMBB, 2 URLLC, 3 mMTC), in input and output order.
slices = [{slices}]

[input]
name = "cell_state"
dtype = "float32"
shape = [-1, {s}, {w}, {f}]
layout = "batch (one row per cell), slice (contract order; zeros for a slice the cell lacks), report window (oldest first), feature"
{feats}
[[outputs]]
name = "slice_quota"
dtype = "float32"
shape = [-1, {s}, 2]
unit = "percent"
columns = ["min_ratio", "max_ratio"]
meaning = "RRM policy ratios per slice: min = 5 + 85 * w_s*d_s / sum(w*d) with d the last window's VS.PrbReqDl and w the weight vector of the action the network picks (equal shares when no slice asks), max = 100 (work conserving)"
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder written by policy_oracle")
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    t0 = time.time()
    rng = np.random.default_rng(0)
    meta, x, v = load(args.data)
    shape = meta["row_shape"]
    table = np.array(meta["actions"]["weights"], np.float32)
    req = meta["features"].index("VS.PrbReqDl")
    tr, va = split(meta)
    z = phi(x)
    mean = z[tr].mean(0)
    std = z[tr].std(0)
    std[std < 1e-3] = 1.0
    zn = ((z - mean) / std).astype(np.float32)
    y = (v - v.mean(1, keepdims=True)).astype(np.float32)
    net, epoch = fit(zn[tr], y[tr], zn[va], v[va], rng)
    _, pred = net.forward(zn)
    # Margin for leaving proportional, picked on validation.
    margins = [0.0, 0.002, 0.005, 0.01, 0.02, 0.05]
    val_scores = {m: float(v[va][np.arange(va.sum()), choose(pred[va], m)].mean()) for m in margins}
    margin = max(margins, key=lambda m: (val_scores[m], m))
    act = choose(pred, margin)
    static = int(v[tr].mean(0).argmax())

    def summary(mask):
        idx = np.arange(mask.sum())
        return {
            "n": int(mask.sum()),
            "policy": float(v[mask][idx, act[mask]].mean()),
            "proportional": float(v[mask][:, 0].mean()),
            "best_static_action": float(v[mask][:, static].mean()),
            "oracle": float(v[mask].max(1).mean()),
            "share_not_proportional": float((act[mask] != 0).mean()),
        }

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "slice_policy.onnx")
    digest = export(onnx_path, net, mean, std, margin, table, shape, req)
    # The graph against numpy through onnxruntime.
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    check = np.arange(len(x))[:: max(1, len(x) // 2000)]
    got = sess.run(None, {"cell_state": x[check]})[0]
    want = quotas_np(x[check], table, act[check], req)
    agree = float((np.abs(got - want).max(axis=(1, 2)) < 1e-3).mean())
    assert agree > 0.99, f"graph and numpy disagree on {1 - agree:.3%} of rows"
    with open(os.path.join(args.out, "slice_policy.contract.toml"), "w") as fh:
        fh.write(contract_text(meta, digest, shape))
    metrics = {
        "data": {k: meta[k] for k in ("traces", "slices", "features", "row_shape")},
        "scenario": meta["scenario"],
        "oracle": meta["oracle"],
        "actions": meta["actions"]["weights"],
        "train": summary(tr),
        "validation": summary(va),
        "best_epoch": epoch,
        "margin": margin,
        "validation_by_margin": val_scores,
        "best_static_action": static,
        "graph_numpy_agreement": agree,
        "train_seconds": round(time.time() - t0, 1),
        "sha256": digest,
    }
    with open(os.path.join(args.out, "metrics.json"), "w") as fh:
        json.dump(metrics, fh, indent=2)
    print(json.dumps({k: metrics[k] for k in ("train", "validation", "margin", "train_seconds")}, indent=2))


if __name__ == "__main__":
    main()
