#!/usr/bin/env python3
"""Train the per-slice PRB demand forecaster on SCOPE per-UE KPM traces and export it to ONNX.

Reproducible: fixed seed, pinned packages (models/requirements.txt), data read from
`../shared/traces/tractor` (or --traces). Writes the ONNX file, its sidecar contract
and `metrics.json` (held-out errors of the model and of the last-value baseline).

Data model (identical to the Rust trace reader in testbed/src/trace.rs):
  * a *cell* is one trace folder; every CSV in it is one UE of that cell;
  * rows are binned into 250 ms report windows by `Timestamp // 250`;
  * a run is split wherever the cell's timeline jumps by more than 10 s;
  * per window and slice: RRU.PrbUsedDl = sum(sum_granted_prbs)/250 [PRB],
    DRB.UEThpDl = sum(tx_brate downlink)*1000 [kbit/s], RRC.ConnMean = #UEs reporting,
    VS.DlBufferBytes = sum(dl_buffer) [byte], VS.PrbReqDl = sum(sum_requested_prbs)/250 [PRB],
    VS.DlCqiMean = mean(dl_cqi) [CQI index 0..15];
  * windows with no rows for a slice inside a run are zero (the slice was idle).

Sample: the last WINDOW windows of one slice -> that slice's RRU.PrbUsedDl in the next window.
Split (blocked by time, per series): each (cell, run, slice) series is cut into blocks of
60 s; of every ten blocks, 0-5 train, 6 validates (model selection), 7-9 test; a sample is
used only when its input windows and its target lie in one block, so no sample straddles a
split (a purge gap of WINDOW windows at every boundary). The test blocks are scored once.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
from collections import defaultdict

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WINDOW = 8
PERIOD_MS = 250
RUN_GAP_MS = 10_000
TTI_PER_WINDOW = 250
CELL_PRBS = 50.0
BLOCK = 240  # 60 s of 250 ms windows
# Hyper-parameters tried (hidden width, epochs, learning rate) × seeds; chosen on validation.
GRID = [(64, 60, 1e-3), (64, 100, 5e-4)]
SEEDS = [7, 11, 13, 17, 19]
FEATURES = [
    ("RRU.PrbUsedDl", "PRB", "mean PRBs used per TTI in the window by the slice"),
    ("DRB.UEThpDl", "kbit/s", "summed DL UE throughput of the slice"),
    ("RRC.ConnMean", "UE", "UEs of the slice reporting in the window"),
    ("VS.DlBufferBytes", "byte", "vendor-specific: summed DL RLC buffer occupancy"),
    ("VS.PrbReqDl", "PRB", "vendor-specific: mean PRBs requested per TTI"),
    ("VS.DlCqiMean", "CQI", "vendor-specific: mean wideband DL CQI of the slice's UEs"),
]
LOG_FEATURES = {"DRB.UEThpDl", "VS.DlBufferBytes", "VS.PrbReqDl"}
QUANTILES = (0.5, 0.9)


def read_cell(folder: str) -> dict[int, dict[int, list[float]]]:
    """bin -> slice -> [prb, thp, ues, buf, req, cqi_sum]"""
    bins: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0] * 6))
    for name in sorted(os.listdir(folder)):
        if not name.endswith("_metrics.csv"):
            continue
        with open(os.path.join(folder, name), newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            col = {h: i for i, h in enumerate(header) if h}
            for row in reader:
                ts = int(row[col["Timestamp"]])
                s = bins[ts // PERIOD_MS][int(row[col["slice_id"]])]
                s[0] += float(row[col["sum_granted_prbs"]]) / TTI_PER_WINDOW
                s[1] += float(row[col["tx_brate downlink [Mbps]"]]) * 1000.0
                s[2] += 1.0
                s[3] += float(row[col["dl_buffer [bytes]"]])
                s[4] += float(row[col["sum_requested_prbs"]]) / TTI_PER_WINDOW
                s[5] += float(row[col["dl_cqi"]])
    return bins


def series_of_cell(bins) -> list[np.ndarray]:
    """Split the cell's timeline into runs, return one [T, F] array per (run, slice)."""
    keys = sorted(bins)
    runs, start = [], 0
    for i in range(1, len(keys)):
        if (keys[i] - keys[i - 1]) * PERIOD_MS > RUN_GAP_MS:
            runs.append(keys[start:i])
            start = i
    runs.append(keys[start:])
    out = []
    for run in runs:
        first, last = run[0], run[-1]
        slices = sorted({s for b in run for s in bins[b]})
        for sl in slices:
            arr = np.zeros((last - first + 1, len(FEATURES)), dtype=np.float64)
            for b in run:
                v = bins[b].get(sl)
                if v is None:
                    continue
                ues = v[2]
                arr[b - first] = [v[0], v[1], ues, v[3], v[4], v[5] / ues if ues else 0.0]
            out.append(arr)
    return out


def windows(series: np.ndarray):
    """(X [n, WINDOW, F], y [n], start index of each window)"""
    n = len(series) - WINDOW
    if n <= 0:
        return None
    idx = np.arange(n)[:, None] + np.arange(WINDOW)[None, :]
    return series[idx], series[WINDOW:, 0], np.arange(n)


def build_dataset(cells: list[str]):
    """{"train", "val", "test"} -> (X, y). Blocked split by time: block k of BLOCK windows
    trains when k % 10 < 6, validates when k % 10 == 6, tests when k % 10 >= 7. A sample (its
    input windows and its target) must lie inside one block, so nothing straddles a split."""
    parts = {"train": ([], []), "val": ([], []), "test": ([], [])}
    for folder in cells:
        for s in series_of_cell(read_cell(folder)):
            w = windows(s)
            if w is None:
                continue
            x, y, start = w
            first_block = start // BLOCK
            inside = first_block == (start + WINDOW) // BLOCK
            k = first_block % 10
            for name, keep in (("train", k < 6), ("val", k == 6), ("test", k >= 7)):
                parts[name][0].append(x[inside & keep])
                parts[name][1].append(y[inside & keep])
    cat = lambda a: np.concatenate(a).astype(np.float32)
    return {name: (cat(xs), cat(ys)) for name, (xs, ys) in parts.items()}


def transform_mask() -> np.ndarray:
    m = np.array([1.0 if f[0] in LOG_FEATURES else 0.0 for f in FEATURES], dtype=np.float32)
    return np.tile(m, WINDOW)


def preprocess(x: np.ndarray, mask, mu=None, sd=None):
    flat = x.reshape(len(x), -1)
    t = mask * np.log1p(np.maximum(flat, 0.0)) + (1.0 - mask) * flat
    if mu is None:
        mu = t.mean(axis=0)
        sd = t.std(axis=0) + 1e-3
    return (t - mu) / sd, mu.astype(np.float32), sd.astype(np.float32)


def softplus(z):
    return np.logaddexp(0.0, z)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class Mlp:
    def __init__(self, sizes, rng):
        self.w = [rng.normal(0, math.sqrt(2.0 / a), (a, b)).astype(np.float64) for a, b in zip(sizes, sizes[1:])]
        # Start at the last-value forecast: the output layer begins near zero change.
        self.w[-1] *= 0.01
        self.b = [np.zeros(b) for b in sizes[1:]]

    def forward(self, x, last):
        acts = [x]
        h = x
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            h = h @ w + b
            if i < len(self.w) - 1:
                h = np.maximum(h, 0.0)
            acts.append(h)
        raw = acts[-1]
        # The forecast is the last value plus a learnt change, clipped at zero PRBs: an idle
        # slice can then be forecast as exactly idle (the change settles below zero).
        p50 = np.maximum(last + raw[:, 0], 0.0)
        p90 = p50 + softplus(raw[:, 1])
        return acts, p50, p90

    def grads(self, x, last, y):
        acts, p50, p90 = self.forward(x, last)
        n = len(y)
        # pinball loss derivative wrt prediction: (1{y<p} - q)
        g50 = ((y < p50).astype(np.float64) - QUANTILES[0]) / n
        g90 = ((y < p90).astype(np.float64) - QUANTILES[1]) / n
        d = np.zeros_like(acts[-1])
        # Straight-through at the zero clip when the target lies above it: a clipped
        # forecast that is too low must still be pushed up (else whole regions go dead).
        d[:, 0] = (g50 + g90) * ((p50 > 0) | (y > 0))
        d[:, 1] = g90 * sigmoid(acts[-1][:, 1])
        gw, gb = [None] * len(self.w), [None] * len(self.w)
        for i in reversed(range(len(self.w))):
            gw[i] = acts[i].T @ d
            gb[i] = d.sum(axis=0)
            if i > 0:
                d = (d @ self.w[i].T) * (acts[i] > 0)
        return gw, gb


def train(x, last, y, seed=7, epochs=100, batch=256, lr=5e-4, hidden=64):
    rng = np.random.default_rng(seed)
    model = Mlp([x.shape[1], hidden, hidden, 2], rng)
    params = model.w + model.b
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    target = y / CELL_PRBS
    last = last / CELL_PRBS
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            i = order[s : s + batch]
            gw, gb = model.grads(x[i], last[i], target[i])
            t += 1
            for k, g in enumerate(gw + gb):
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                mh = m[k] / (1 - 0.9**t)
                vh = v[k] / (1 - 0.999**t)
                params[k] -= lr * mh / (np.sqrt(vh) + 1e-8)
        if epoch in (epochs // 2, 3 * epochs // 4):
            lr *= 0.3
    return model


def predict(model, xn, last):
    _, p50, p90 = model.forward(xn, last / CELL_PRBS)
    return np.clip(p50 * CELL_PRBS, 0, CELL_PRBS), np.clip(p90 * CELL_PRBS, 0, CELL_PRBS)


def errors(pred, y):
    e = pred - y
    return {"mae": float(np.mean(np.abs(e))), "rmse": float(np.sqrt(np.mean(e * e)))}


def export(model, mask, mu, sd, path):
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    inits = [
        numpy_helper.from_array(np.array([-1, WINDOW * len(FEATURES)], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(f32([0.0]), "zero"),
        numpy_helper.from_array(f32([1.0]), "one"),
        numpy_helper.from_array(f32(mask), "log_mask"),
        numpy_helper.from_array(f32(1.0 - mask), "lin_mask"),
        numpy_helper.from_array(f32(mu), "mu"),
        numpy_helper.from_array(f32(sd), "sd"),
        numpy_helper.from_array(f32([CELL_PRBS]), "prb_scale"),
        numpy_helper.from_array(f32(0.0), "clip_lo"),
        numpy_helper.from_array(f32(CELL_PRBS), "clip_hi"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "split_sizes"),
    ]
    nodes = [
        helper.make_node("Reshape", ["kpm_window", "flat_shape"], ["flat"]),
        helper.make_node("Max", ["flat", "zero"], ["pos"]),
        helper.make_node("Add", ["pos", "one"], ["pos1"]),
        helper.make_node("Log", ["pos1"], ["lg"]),
        helper.make_node("Mul", ["lg", "log_mask"], ["lg_m"]),
        helper.make_node("Mul", ["flat", "lin_mask"], ["lin_m"]),
        helper.make_node("Add", ["lg_m", "lin_m"], ["xt"]),
        helper.make_node("Sub", ["xt", "mu"], ["xc"]),
        helper.make_node("Div", ["xc", "sd"], ["h0"]),
    ]
    h = "h0"
    for i, (w, b) in enumerate(zip(model.w, model.b)):
        inits += [numpy_helper.from_array(f32(w), f"w{i}"), numpy_helper.from_array(f32(b), f"b{i}")]
        nodes += [helper.make_node("MatMul", [h, f"w{i}"], [f"mm{i}"]), helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"])]
        h = f"z{i}"
        if i < len(model.w) - 1:
            nodes.append(helper.make_node("Relu", [h], [f"a{i}"]))
            h = f"a{i}"
    nodes += [
        helper.make_node("Split", [h, "split_sizes_2"], ["delta_raw", "spread_raw"], axis=1),
        helper.make_node("Gather", ["flat", "last_prb_index"], ["last_prb"], axis=1),
        helper.make_node("Div", ["last_prb", "prb_scale"], ["last_n"]),
        helper.make_node("Add", ["last_n", "delta_raw"], ["p50_lin"]),
        helper.make_node("Max", ["p50_lin", "zero"], ["p50_raw"]),
        helper.make_node("Softplus", ["spread_raw"], ["spread"]),
        helper.make_node("Add", ["p50_raw", "spread"], ["p90_raw"]),
        helper.make_node("Concat", ["p50_raw", "p90_raw"], ["q_raw"], axis=1),
        helper.make_node("Mul", ["q_raw", "prb_scale"], ["q_prb"]),
        helper.make_node("Clip", ["q_prb", "clip_lo", "clip_hi"], ["prb_demand"]),
    ]
    inits = [i for i in inits if i.name != "split_sizes"]
    inits.append(numpy_helper.from_array(np.array([1, 1], dtype=np.int64), "split_sizes_2"))
    inits.append(numpy_helper.from_array(np.array([(WINDOW - 1) * len(FEATURES)], dtype=np.int64), "last_prb_index"))
    graph = helper.make_graph(
        nodes,
        "slice_prb_forecaster",
        [helper.make_tensor_value_info("kpm_window", TensorProto.FLOAT, ["batch", WINDOW, len(FEATURES)])],
        [helper.make_tensor_value_info("prb_demand", TensorProto.FLOAT, ["batch", 2])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ai-ran-xapp/train.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def write_contract(path: str, digest: str) -> None:
    """The sidecar contract the runtime checks before it serves the model."""
    lines = [
        "# Contract of slice_forecaster.onnx, written by train.py. The runtime refuses the model",
        "# when the file's sha256, its input/output names, shapes or element types differ.",
        'name = "slice-prb-forecaster"',
        'version = "1.0.0"',
        'file = "slice_forecaster.onnx"',
        f'sha256 = "{digest}"',
        f"report_period_ms = {PERIOD_MS}",
        "# DL PRBs of the training cells; inputs with unit \"PRB\" are PRB counts, scaled by",
        "# cell_prbs / RRU.PrbAvailDl on other cell sizes (prb_scaling = \"refuse\" would refuse them).",
        f"cell_prbs = {int(CELL_PRBS)}",
        'prb_scaling = "linear"',
        "",
        "[input]",
        'name = "kpm_window"',
        'dtype = "float32"',
        f"shape = [-1, {WINDOW}, {len(FEATURES)}]",
        'layout = "batch (one row per cell and slice), report window (oldest first), feature"',
        "",
    ]
    for name, unit, meaning in FEATURES:
        lines += ["[[input.features]]", f'name = "{name}"', f'unit = "{unit}"', f'meaning = "{meaning}"', ""]
    lines += [
        "[[outputs]]",
        'name = "prb_demand"',
        'dtype = "float32"',
        "shape = [-1, 2]",
        'unit = "PRB"',
        'columns = ["p50", "p90"]',
        'meaning = "forecast of the slice\'s mean PRBs used per TTI in the next report window: median and 90th percentile, clipped to [0, cell_prbs]"',
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", default=os.path.join(here, "../../../shared/traces/tractor"))
    ap.add_argument("--out", default=here)
    args = ap.parse_args()
    cells = sorted(os.path.join(args.traces, d) for d in os.listdir(args.traces) if os.path.isdir(os.path.join(args.traces, d)))
    data = build_dataset(cells)
    (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
    mask = transform_mask()
    xn_tr, mu, sd = preprocess(xtr, mask)
    xn_va, _, _ = preprocess(xva, mask, mu, sd)
    xn_te, _, _ = preprocess(xte, mask, mu, sd)
    # Model selection on the validation blocks only; the test blocks are scored once, at the end.
    trials = []
    for hidden, epochs, lr in GRID:
        for seed in SEEDS:
            m = train(xn_tr, xtr[:, -1, 0], ytr, seed=seed, epochs=epochs, lr=lr, hidden=hidden)
            val_p50, _ = predict(m, xn_va, xva[:, -1, 0])
            val = errors(val_p50, yva)
            trials.append({"hidden": hidden, "epochs": epochs, "lr": lr, "seed": seed, "val": val, "model": m})
            print(f"hidden {hidden} epochs {epochs} lr {lr} seed {seed}: val MAE {val['mae']:.4f} RMSE {val['rmse']:.4f}")
    best = min(trials, key=lambda t: t["val"]["mae"])
    model = best["model"]
    p50, p90 = predict(model, xn_te, xte[:, -1, 0])
    last = xte[:, -1, 0]
    mean4 = xte[:, -4:, 0].mean(axis=1)
    metrics = {
        "cells": [os.path.basename(c) for c in cells],
        "train_samples": int(len(ytr)),
        "val_samples": int(len(yva)),
        "test_samples": int(len(yte)),
        "selected": {k: best[k] for k in ("hidden", "epochs", "lr", "seed")},
        "selection": [{k: t[k] for k in ("hidden", "epochs", "lr", "seed", "val")} for t in trials],
        "val_model_p50": best["val"],
        "val_baseline_last_value": errors(xva[:, -1, 0], yva),
        "model_p50": errors(p50, yte),
        "baseline_last_value": errors(last, yte),
        "baseline_mean_last4": errors(mean4, yte),
        "p90_coverage": float(np.mean(yte <= p90 + 1e-6)),
    }
    path = os.path.join(args.out, "slice_forecaster.onnx")
    export(model, mask, mu, sd, path)
    # Self-check: onnxruntime on the exported file gives what numpy gave.
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"kpm_window": xte[:512]})[0]
    assert np.allclose(got[:, 0], p50[:512], atol=1e-2), "onnx export disagrees with numpy"
    metrics["onnx_check_max_abs_diff"] = float(np.max(np.abs(got[:, 0] - p50[:512])))
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    metrics["sha256"] = digest
    write_contract(os.path.join(args.out, "slice_forecaster.contract.toml"), digest)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
