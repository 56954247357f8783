#!/usr/bin/env python3
"""Train the per-slice PRB demand forecaster 2.0.0 leave-one-trial-out and export it to ONNX.

One command (pinned environment `models/requirements.txt`, seeds fixed):

    .cache/train-venv/bin/python models/slice_forecaster/train.py

It reads the six TRACTOR trials under `../shared/traces` (or `--traces`), trains one fold
model per trial on the other five and scores it on ALL samples of the trial it left out
(`loto/<trial>.onnx` + contract), then trains the shipped model on all six trials
(`slice_forecaster.onnx` + contract) and writes `metrics.json`. Every exported graph is run
through onnxruntime and checked against the numpy forward pass; the held-out numbers are
computed from onnxruntime's outputs.

Data model (identical to the Rust trace reader `testbed::trace::read_cell`):
  * a trace path is a cell folder (holds `*_metrics.csv`) or a folder of cell folders;
  * every CSV row of a cell is binned into 250 ms report windows by `Timestamp // 250`;
  * a run is split wherever the cell's timeline jumps by more than 10 s; every slice seen in
    a run is present in every window of the run (zeros where it did not report);
  * per window and slice: RRU.PrbUsedDl = sum(sum_granted_prbs)/250 [PRB],
    DRB.UEThpDl = sum(tx_brate downlink)*1000 [kbit/s], RRC.ConnMean = rows reporting,
    VS.DlBufferBytes = sum(dl_buffer) [byte], VS.PrbReqDl = sum(sum_requested_prbs)/250 [PRB],
    VS.DlCqiMean = mean(dl_cqi); sums in float64, stored as float32 like the Rust reader.

Samples (interface A of issue 9): for every cell, run and slice, every start s with
s + W < run length: windows s .. s+W-1 -> RRU.PrbUsedDl of window s+W. UE-count group of a
sample = max over its run's windows of the sum over slices of RRC.ConnMean.

Split: the held-out trial is scored on all its samples. Inside the five training trials the
series are cut into 60 s blocks (240 windows) counted from each run's start; a sample is used
only when its inputs and target lie in one block; block k validates when k % 5 == 4 and
trains otherwise. Model selection (hyper-parameters and seed) uses the validation blocks only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import re
import time
from collections import defaultdict

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VERSION = "2.0.0"
WINDOW = 8
PERIOD_MS = 250
RUN_GAP_MS = 10_000
TTI_PER_WINDOW = 250.0
CELL_PRBS = 50.0
BLOCK = 240  # 60 s of 250 ms windows
VAL_EVERY = 5  # block k validates when k % VAL_EVERY == VAL_EVERY - 1
# Trials: the unit of leave-one-trial-out. Paths are relative to ../shared/traces.
TRIALS = {
    "multi-ue-trial1": ["tractor-trials/multi-ue-trial1"],
    "multi-ue-trial2": ["tractor-trials/multi-ue-trial2", "tractor/multi4"],
    "single-ue-trial1": ["tractor-trials/single-ue-trial1"],
    "single-ue-trial2": ["tractor-trials/single-ue-trial2"],
    "single-ue-trial5": ["tractor-trials/single-ue-trial5"],
    "single-ue-trial6": ["tractor/single-ue-trial6"],
}
FEATURES = [
    ("RRU.PrbUsedDl", "PRB", "mean PRBs used per TTI in the window by the slice"),
    ("DRB.UEThpDl", "kbit/s", "summed DL UE throughput of the slice"),
    ("RRC.ConnMean", "UE", "UEs of the slice reporting in the window"),
    ("VS.DlBufferBytes", "byte", "vendor-specific: summed DL RLC buffer occupancy"),
    ("VS.PrbReqDl", "PRB", "vendor-specific: mean PRBs requested per TTI"),
    ("VS.DlCqiMean", "CQI", "vendor-specific: mean wideband DL CQI of the slice's UEs"),
]
PRB, THP, UES, BUF, REQ, CQI = range(len(FEATURES))
# Derived per-window inputs computed inside the graph (see `derived`); none grows with the
# UE count or the carrier size.
DERIVED = [
    "PRB share of the carrier: clip(PrbUsedDl, 0, cell_prbs) / cell_prbs",
    "requested PRB share: clip(PrbReqDl, 0, 2 cell_prbs) / cell_prbs",
    "log(1 + DL throughput per UE [kbit/s])",
    "log(1 + DL buffer per UE [byte])",
    "CQI / 15",
    "log(1 + min(UEs, 16)): the UE count as an input, capped",
    "log(1 + DL throughput per used PRB): spectral efficiency",
    "1 when the slice used PRBs in the window",
    "1 when the slice had DL data buffered",
]
UE_CAP = 16.0
# Hyper-parameters tried (hidden width, epochs, learning rate) × seeds; chosen on validation.
GRID = [(64, 12, 2e-3)]
SEEDS = [7]
QUANTILES = (0.5, 0.9)
# Training-only hygiene: windows no SCOPE cell can produce (a file whose Timestamp column was
# written as 1.66716E+12 collapses thousands of rows into one window) are not trained on.
# They stay in every evaluation.
SANE_UES = 64.0
SANE_PRB = CELL_PRBS + 1.0
# Share of all-idle training samples kept (with the inverse weight): they teach "stay idle"
# but are 55-85 % of the data.
IDLE_KEEP = 0.2


# ---------------------------------------------------------------- data (mirrors trace.rs)


# A Timestamp must be written in plain decimal notation (digits, optionally '.' and digits;
# no sign, no exponent), the rule of `testbed::trace::plain_decimal`: `1.66716E+12` (a
# spreadsheet re-save with 6 significant digits) has no millisecond precision and would fold
# hours of rows into one window. Such rows are skipped and counted, as
# `read_cell_with(.., OnBadRow::Skip)` does.
PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
SKIPPED_ROWS: dict[str, int] = defaultdict(int)  # cell folder -> rows skipped


def skipped_report(root: str) -> dict[str, int]:
    """Rows skipped per cell folder (relative to the traces root)."""
    return {os.path.relpath(k, root): v for k, v in sorted(SKIPPED_ROWS.items())}


def fold_skipped(root: str, held: str) -> int:
    """Rows skipped in the trace paths of one trial (model-eval's `skipped_rows.rows`)."""
    return sum(n for cell, n in skipped_report(root).items()
               if any(cell == p or cell.startswith(p + os.sep) for p in TRIALS[held]))


def read_cell(folder: str) -> list[tuple[list[int], np.ndarray]]:
    """One cell folder -> its runs as (slice ids, float32 [slices, windows, features])."""
    files = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith("_metrics.csv"))
    if not files:
        raise ValueError(f"trace folder {folder} holds no *_metrics.csv file")
    bins: dict[int, dict[int, list[float]]] = defaultdict(dict)
    for path in files:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            col = {h: i for i, h in enumerate(next(reader)) if h}
            names = ("Timestamp", "slice_id", "sum_granted_prbs", "sum_requested_prbs",
                     "tx_brate downlink [Mbps]", "dl_buffer [bytes]", "dl_cqi")
            its, isl, igr, irq, ith, ibf, icq = (col[n] for n in names)
            for row in reader:
                if not PLAIN_DECIMAL.fullmatch(row[its].strip()):
                    SKIPPED_ROWS[folder] += 1
                    continue
                b = int(float(row[its])) // PERIOD_MS
                sl = int(float(row[isl]))
                a = bins[b].get(sl)
                if a is None:
                    a = bins[b][sl] = [0.0] * 6
                a[PRB] += float(row[igr]) / TTI_PER_WINDOW
                a[THP] += float(row[ith]) * 1000.0
                a[UES] += 1.0
                a[BUF] += float(row[ibf])
                a[REQ] += float(row[irq]) / TTI_PER_WINDOW
                a[CQI] += float(row[icq])
    keys = sorted(bins)
    runs, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or (keys[i] - keys[i - 1]) * PERIOD_MS > RUN_GAP_MS:
            runs.append(keys[start:i])
            start = i
    out = []
    for run in runs:
        first, last = run[0], run[-1]
        sids = sorted({s for b in run for s in bins[b]})
        arr = np.zeros((len(sids), last - first + 1, len(FEATURES)), dtype=np.float64)
        for b in run:
            for j, s in enumerate(sids):
                v = bins[b].get(s)
                if v is not None:
                    arr[j, b - first] = v[:CQI] + [v[CQI] / v[UES] if v[UES] else 0.0]
        out.append((sids, arr.astype(np.float32)))
    return out


def cell_folders(path: str) -> list[str]:
    """A cell folder itself, or the cell folders inside a folder of cells (sorted)."""
    if any(n.endswith("_metrics.csv") for n in os.listdir(path)):
        return [path]
    return sorted(os.path.join(path, d) for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))


class Samples:
    """Every sample of some trace paths: inputs, target, last value, UE group, split tag."""

    def __init__(self, x, y, ues, split, folder):
        self.x, self.y, self.ues, self.split, self.folder = x, y, ues, split, folder

    @property
    def last(self):
        return self.x[:, -1, PRB]

    def __len__(self):
        return len(self.y)

    @staticmethod
    def of_paths(root: str, paths: list[str]) -> "Samples":
        xs, ys, us, sp, fo = [], [], [], [], []
        for p in paths:
            for cell in cell_folders(os.path.join(root, p)):
                for _, arr in read_cell(cell):
                    t = arr.shape[1]
                    if t <= WINDOW:
                        continue
                    ues = int(arr[:, :, UES].sum(axis=0).max())
                    n = t - WINDOW
                    idx = np.arange(n)[:, None] + np.arange(WINDOW)[None, :]
                    start = np.arange(n)
                    block = start // BLOCK
                    inside = block == (start + WINDOW) // BLOCK
                    split = np.where(inside, np.where(block % VAL_EVERY == VAL_EVERY - 1, 1, 0), -1)
                    for j in range(arr.shape[0]):
                        xs.append(arr[j][idx])
                        ys.append(arr[j, WINDOW:, PRB])
                        us.append(np.full(n, ues))
                        sp.append(split)
                        fo.append(np.full(n, os.path.relpath(cell, root)))
        return Samples(np.concatenate(xs), np.concatenate(ys), np.concatenate(us), np.concatenate(sp), np.concatenate(fo))


# ---------------------------------------------------------------- features and model


def derived(x: np.ndarray) -> np.ndarray:
    """[n, W, 6] raw measurements -> [n, W * len(DERIVED)] float32 (the graph does the same)."""
    f32 = np.float32
    prb, thp, n, buf, req, cqi = (x[:, :, i].astype(f32) for i in range(len(FEATURES)))
    per_ue = np.maximum(n, f32(1.0))
    cols = [
        np.clip(prb, f32(0), f32(CELL_PRBS)) / f32(CELL_PRBS),
        np.clip(req, f32(0), f32(2 * CELL_PRBS)) / f32(CELL_PRBS),
        np.log(f32(1) + np.maximum(thp, f32(0)) / per_ue),
        np.log(f32(1) + np.maximum(buf, f32(0)) / per_ue),
        np.clip(cqi, f32(0), f32(15)) / f32(15),
        np.log(f32(1) + np.clip(n, f32(0), f32(UE_CAP))),
        np.log(f32(1) + np.maximum(thp, f32(0)) / np.maximum(prb, f32(0.1))),
        (prb > 0).astype(f32),
        (buf > 0).astype(f32),
    ]
    return np.stack(cols, axis=-1).reshape(len(x), -1).astype(f32)


def softplus(z):
    return np.logaddexp(0.0, z)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class Mlp:
    """Standardised derived inputs -> two ReLU layers -> (change of the PRB share, p90 spread).

    p50 = max(last share + change, 0): residual on the last value, so an idle slice can be
    forecast exactly idle; p90 = p50 + softplus(spread)."""

    def __init__(self, sizes, rng, mu, sd):
        self.mu, self.sd = mu.astype(np.float32), sd.astype(np.float32)
        self.w = [rng.normal(0, math.sqrt(2.0 / a), (a, b)).astype(np.float32) for a, b in zip(sizes, sizes[1:])]
        self.w[-1] *= 0.01  # start at the last-value forecast
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]

    def forward(self, h, last):
        acts = [h]
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            h = h @ w + b
            if i < len(self.w) - 1:
                h = np.maximum(h, 0.0)
            acts.append(h)
        p50 = np.maximum(last + h[:, 0], 0.0)
        return acts, p50, p50 + softplus(h[:, 1])

    def grads(self, h, last, y, wt):
        acts, p50, p90 = self.forward(h, last)
        n = wt.sum()
        g50 = ((y < p50).astype(np.float32) - QUANTILES[0]) * wt / n
        g90 = ((y < p90).astype(np.float32) - QUANTILES[1]) * wt / n
        d = np.zeros_like(acts[-1])
        # Straight-through at the zero clip when the target lies above it.
        d[:, 0] = (g50 + g90) * ((p50 > 0) | (y > 0))
        d[:, 1] = g90 * sigmoid(acts[-1][:, 1])
        gw, gb = [None] * len(self.w), [None] * len(self.w)
        for i in reversed(range(len(self.w))):
            gw[i] = acts[i].T @ d
            gb[i] = d.sum(axis=0)
            if i > 0:
                d = (d @ self.w[i].T) * (acts[i] > 0)
        return gw, gb

    def predict(self, x):
        """Raw [n, W, 6] -> (p50, p90) in PRB, as the exported graph computes them."""
        h = (derived(x) - self.mu) / self.sd
        last = np.clip(x[:, -1, PRB], 0, CELL_PRBS).astype(np.float32) / np.float32(CELL_PRBS)
        _, p50, p90 = self.forward(h, last)
        return np.clip(p50 * CELL_PRBS, 0, CELL_PRBS), np.clip(p90 * CELL_PRBS, 0, CELL_PRBS)


def train_mlp(x, y, wt, seed, hidden, epochs, lr, batch=256) -> Mlp:
    """Adam on the pinball loss. `hidden`: the width of two hidden layers, or a tuple of
    widths (any depth; the larger model's members)."""
    widths = tuple(hidden) if isinstance(hidden, (tuple, list)) else (hidden, hidden)
    feats = derived(x)
    mu = feats.mean(axis=0)
    sd = feats.std(axis=0) + 1e-3
    rng = np.random.default_rng(seed)
    model = Mlp([feats.shape[1], *widths, 2], rng, mu, sd)
    h = ((feats - mu) / sd).astype(np.float32)
    del feats
    last = np.clip(x[:, -1, PRB], 0, CELL_PRBS).astype(np.float32) / np.float32(CELL_PRBS)
    target = (y / CELL_PRBS).astype(np.float32)
    params = model.w + model.b
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    for epoch in range(epochs):
        order = rng.permutation(len(h))
        for s in range(0, len(h), batch):
            i = order[s : s + batch]
            gw, gb = model.grads(h[i], last[i], target[i], wt[i])
            t += 1
            for k, g in enumerate(gw + gb):
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                params[k] -= lr * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
        if epoch in (epochs // 2, 3 * epochs // 4):
            lr *= 0.3
    return model


# ---------------------------------------------------------------- training and selection


def training_set(parts: list[Samples]):
    """Train / validation masks over the concatenated training trials, with weights that
    give every trial the same total weight (a big trial does not drown a small one)."""
    x = np.concatenate([p.x for p in parts])
    y = np.concatenate([p.y for p in parts])
    split = np.concatenate([p.split for p in parts])
    trial = np.concatenate([np.full(len(p), k) for k, p in enumerate(parts)])
    sane = (x[:, :, UES].max(axis=1) <= SANE_UES) & (x[:, :, PRB].max(axis=1) <= SANE_PRB) & (y <= SANE_PRB)
    idle = (x[:, :, PRB].max(axis=1) == 0) & (x[:, :, BUF].max(axis=1) == 0) & (y == 0)
    keep = np.random.default_rng(1).random(len(y)) < IDLE_KEEP
    train = (split == 0) & sane & (~idle | keep)
    val = (split == 1) & sane
    wt = np.zeros(len(y), np.float32)
    for k in range(len(parts)):
        mk = train & (trial == k)
        wt[mk] = 1.0 / mk.sum()
        wt[mk & idle] /= IDLE_KEEP
    wt /= wt[train].mean()
    return x, y, trial, train, val, wt


def errors(pred, y) -> dict:
    e = pred.astype(np.float64) - y.astype(np.float64)
    return {"mae": float(np.mean(np.abs(e))), "rmse": float(np.sqrt(np.mean(e * e)))}


def fit(parts: list[Samples], names: list[str], label: str):
    """Grid × seeds on the training blocks; the lowest mean validation MAE ratio to last
    value over the training trials wins. Returns (model, selection record)."""
    x, y, trial, train, val, wt = training_set(parts)
    tried = []
    for hidden, epochs, lr in GRID:
        for seed in SEEDS:
            t0 = time.time()
            model = train_mlp(x[train], y[train], wt[train], seed, hidden, epochs, lr)
            ratios = {}
            for k, name in enumerate(names):
                mk = val & (trial == k)
                p50, _ = model.predict(x[mk])
                ratios[name] = errors(p50, y[mk])["mae"] / errors(x[mk][:, -1, PRB], y[mk])["mae"]
            score = float(np.mean(list(ratios.values())))
            tried.append({"hidden": hidden, "epochs": epochs, "lr": lr, "seed": seed,
                          "val_mae_over_last_value": ratios, "score": score, "model": model})
            print(f"[{label}] hidden {hidden} epochs {epochs} lr {lr} seed {seed}: "
                  f"val MAE / last value {score:.4f} ({time.time() - t0:.0f} s)", flush=True)
    best = min(tried, key=lambda t: t["score"])
    record = {"selected": {k: best[k] for k in ("hidden", "epochs", "lr", "seed")},
              "train_samples": int(train.sum()), "val_samples": int(val.sum()),
              "tried": [{k: t[k] for k in t if k != "model"} for t in tried]}
    return best["model"], record


# ---------------------------------------------------------------- evaluation


def evaluate(s: Samples, p50, p90) -> dict:
    """Overall and per-UE-count errors of the model, last value and the mean of the last 4."""
    last = s.last
    mean4 = s.x[:, -4:, PRB].mean(axis=1)

    def block(mask):
        m, lv, mv = errors(p50[mask], s.y[mask]), errors(last[mask], s.y[mask]), errors(mean4[mask], s.y[mask])
        return {"n": int(mask.sum()), "model_mae": m["mae"], "last_value_mae": lv["mae"],
                "model_rmse": m["rmse"], "last_value_rmse": lv["rmse"],
                "mean4_mae": mv["mae"], "mean4_rmse": mv["rmse"],
                "p90_coverage": float(np.mean(s.y[mask] <= p90[mask] + 1e-6))}

    out = block(np.ones(len(s), bool))
    out["groups"] = [{"ues": int(u), **block(s.ues == u)} for u in sorted(set(s.ues.tolist()))]
    # The same without the samples that touch a window no cell can produce (see SANE_*).
    sane = (s.x[:, :, UES].max(axis=1) <= SANE_UES) & (s.x[:, :, PRB].max(axis=1) <= SANE_PRB) & (s.y <= SANE_PRB)
    if not sane.all():
        out["without_corrupt_windows"] = {k: v for k, v in block(sane).items()}
    return out


# ---------------------------------------------------------------- export


def export(model: Mlp, path: str, name: str) -> None:
    """The graph: raw measurements -> derived inputs -> MLP -> (p50, p90) in PRB.

    The derived inputs are computed on one contiguous row per measurement (`[6, batch × W]`,
    after one transpose of the input), then brought back as `[batch, 9 × W]` (derived-input
    major) by a transpose of `[9, batch, W]` blocks, and the standardisation is folded into the
    first layer's weights. Measured on one onnxruntime thread: element-wise ops on the
    `[batch, W, 1]` slices of a split along the last axis, or a transpose of `[9, batch × W]`
    back to `[batch × W, 9]`, cost 1.5 ms per 1,000 rows; this layout a fraction of that."""
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    nd = len(DERIVED)
    c = lambda v, n: numpy_helper.from_array(f32(v), n)
    i64 = lambda v, n: numpy_helper.from_array(np.array(v, dtype=np.int64), n)
    inits = [
        c(0.0, "zero"), c(1.0, "one"), c(0.1, "min_prb"), c(15.0, "cqi_max"), c(UE_CAP, "ue_cap"),
        c(CELL_PRBS, "cell_prbs"), c(2 * CELL_PRBS, "req_max"),
        i64([-1, len(FEATURES)], "rows_shape"),
        i64([nd, -1, WINDOW], "derived_shape"),
        i64([-1, WINDOW], "window_shape"),
        i64([1] * len(FEATURES), "split6"),
        i64([1, 1], "split2"),
        i64([WINDOW - 1], "last_start"),
        i64([WINDOW], "last_end"),
        i64([1], "axis1"),
    ]
    N = helper.make_node
    nodes = [
        # [batch, W, 6] -> [batch × W, 6] -> [6, batch × W]: one row per measurement
        N("Reshape", ["kpm_window", "rows_shape"], ["rows"]),
        N("Transpose", ["rows"], ["cols"], perm=[1, 0]),
        N("Split", ["cols", "split6"], ["prb", "thp", "ues", "buf", "req", "cqi"], axis=0),
        N("Clip", ["prb", "zero", "cell_prbs"], ["prb_c"]),
        N("Div", ["prb_c", "cell_prbs"], ["d0"]),
        N("Clip", ["req", "zero", "req_max"], ["req_c"]),
        N("Div", ["req_c", "cell_prbs"], ["d1"]),
        N("Max", ["ues", "one"], ["per_ue"]),
        N("Max", ["thp", "zero"], ["thp_p"]),
        N("Div", ["thp_p", "per_ue"], ["thp_ue"]),
        N("Add", ["thp_ue", "one"], ["thp_ue1"]),
        N("Log", ["thp_ue1"], ["d2"]),
        N("Max", ["buf", "zero"], ["buf_p"]),
        N("Div", ["buf_p", "per_ue"], ["buf_ue"]),
        N("Add", ["buf_ue", "one"], ["buf_ue1"]),
        N("Log", ["buf_ue1"], ["d3"]),
        N("Clip", ["cqi", "zero", "cqi_max"], ["cqi_c"]),
        N("Div", ["cqi_c", "cqi_max"], ["d4"]),
        N("Clip", ["ues", "zero", "ue_cap"], ["ues_c"]),
        N("Add", ["ues_c", "one"], ["ues_c1"]),
        N("Log", ["ues_c1"], ["d5"]),
        N("Max", ["prb", "min_prb"], ["prb_floor"]),
        N("Div", ["thp_p", "prb_floor"], ["eff"]),
        N("Add", ["eff", "one"], ["eff1"]),
        N("Log", ["eff1"], ["d6"]),
        N("Greater", ["prb", "zero"], ["busy_b"]),
        N("Cast", ["busy_b"], ["d7"], to=TensorProto.FLOAT),
        N("Greater", ["buf", "zero"], ["buffered_b"]),
        N("Cast", ["buffered_b"], ["d8"], to=TensorProto.FLOAT),
        # [9, batch × W] -> [9, batch, W] -> [batch, 9, W] -> [batch, 9 × W]
        N("Concat", [f"d{i}" for i in range(nd)], ["derived_rows"], axis=0),
        N("Reshape", ["derived_rows", "derived_shape"], ["derived"]),
        N("Transpose", ["derived"], ["derived_b"], perm=[1, 0, 2]),
        N("Reshape", ["derived_b", "flat_shape"], ["derived_flat"]),
        N("MatMul", ["derived_flat", "w0f"], ["mm0"]),
        N("Add", ["mm0", "b0"], ["z0"]),
        N("Relu", ["z0"], ["a0"]),
    ]
    w0, b0 = first_layer(model)
    inits += [c(w0.reshape(-1, w0.shape[2]), "w0f"), c(b0, "b0"), i64([-1, WINDOW * nd], "flat_shape")]
    h = "a0"
    for i, (w, b) in enumerate(zip(model.w, model.b)):
        if i == 0:
            continue
        inits += [c(w, f"w{i}"), c(b, f"b{i}")]
        nodes += [N("MatMul", [h, f"w{i}"], [f"mm{i}"]), N("Add", [f"mm{i}", f"b{i}"], [f"z{i}"])]
        h = f"z{i}"
        if i < len(model.w) - 1:
            nodes.append(N("Relu", [h], [f"a{i}"]))
            h = f"a{i}"
    nodes += [
        N("Split", [h, "split2"], ["change", "spread_raw"], axis=1),
        # the last window's PRB share, [batch, 1]
        N("Reshape", ["d0", "window_shape"], ["share_w"]),
        N("Slice", ["share_w", "last_start", "last_end", "axis1"], ["last_share"]),
        N("Add", ["last_share", "change"], ["p50_lin"]),
        N("Max", ["p50_lin", "zero"], ["p50_raw"]),
        N("Softplus", ["spread_raw"], ["spread"]),
        N("Add", ["p50_raw", "spread"], ["p90_raw"]),
        N("Concat", ["p50_raw", "p90_raw"], ["q_raw"], axis=1),
        N("Mul", ["q_raw", "cell_prbs"], ["q_prb"]),
        N("Clip", ["q_prb", "zero", "cell_prbs"], ["prb_demand"]),
    ]
    graph = helper.make_graph(
        nodes,
        name.replace("-", "_"),
        [helper.make_tensor_value_info("kpm_window", TensorProto.FLOAT, ["batch", WINDOW, len(FEATURES)])],
        [helper.make_tensor_value_info("prb_demand", TensorProto.FLOAT, ["batch", 2])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ai-ran-xapp/train.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def first_layer(model: Mlp):
    """The first layer with the standardisation folded in, as `[9, W, hidden]` weights (derived
    input d of window t is row t × 9 + d of the MLP's input, row d × W + t of the graph's)
    and a bias."""
    nd = len(DERIVED)
    w = model.w[0].astype(np.float64) / model.sd.astype(np.float64)[:, None]
    b = model.b[0].astype(np.float64) - (model.mu.astype(np.float64) / model.sd.astype(np.float64)) @ model.w[0].astype(np.float64)
    w = w.reshape(WINDOW, nd, -1).transpose(1, 0, 2)
    return w.astype(np.float32), b.astype(np.float32)


def load_weights(path: str) -> Mlp:
    """The MLP of a graph exported before the first layer was folded (v2 training runs)."""
    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    if "mu" not in init:
        raise ValueError(f"{path} is already in the folded layout: retrain instead")
    model = Mlp.__new__(Mlp)
    model.mu, model.sd = init["mu"], init["sd"]
    layers = sorted(int(k[1:]) for k in init if k.startswith("w") and k[1:].isdigit())
    model.w = [init[f"w{i}"] for i in layers]
    model.b = [init[f"b{i}"] for i in layers]
    return model


def export_floor(path: str) -> None:
    """The floor of the inference benchmark (`inferbench`): the model's input and output
    names and shapes, and no arithmetic (the output is two input values copied)."""
    flat = numpy_helper.from_array(np.array([-1, WINDOW * len(FEATURES)], dtype=np.int64), "flat_shape")
    starts = numpy_helper.from_array(np.array([0], dtype=np.int64), "starts")
    ends = numpy_helper.from_array(np.array([2], dtype=np.int64), "ends")
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["kpm_window", "flat_shape"], ["flat"]),
         helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["prb_demand"])],
        "bench_floor",
        [helper.make_tensor_value_info("kpm_window", TensorProto.FLOAT, ["batch", WINDOW, len(FEATURES)])],
        [helper.make_tensor_value_info("prb_demand", TensorProto.FLOAT, ["batch", 2])],
        [flat, starts, ends, axes],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ai-ran-xapp/train.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(m, path)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    write_contract(path.replace(".onnx", ".contract.toml"), "bench-floor", os.path.basename(path), digest)


def write_contract(path: str, name: str, file: str, digest: str) -> None:
    """The sidecar contract the runtime checks before it serves the model."""
    lines = [
        f"# Contract of {file}, written by train.py. The runtime refuses the model",
        "# when the file's sha256, its input/output names, shapes or element types differ.",
        f'name = "{name}"',
        f'version = "{VERSION}"',
        f'file = "{file}"',
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
    for fname, unit, meaning in FEATURES:
        lines += ["[[input.features]]", f'name = "{fname}"', f'unit = "{unit}"', f'meaning = "{meaning}"', ""]
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


def ship(model: Mlp, folder: str, stem: str, name: str, check: Samples) -> tuple[str, object]:
    """Export, hash, contract, and check onnxruntime against numpy; returns (sha256, session)."""
    import onnxruntime as ort

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{stem}.onnx")
    export(model, path, name)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    write_contract(os.path.join(folder, f"{stem}.contract.toml"), name, f"{stem}.onnx", digest)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    n = min(len(check), 4096)
    got = sess.run(None, {"kpm_window": check.x[:n]})[0]
    p50, p90 = model.predict(check.x[:n])
    diff = float(max(np.max(np.abs(got[:, 0] - p50)), np.max(np.abs(got[:, 1] - p90))))
    assert diff < 1e-2, f"{path}: onnxruntime disagrees with numpy by {diff}"
    return digest, sess, diff


def run_model(sess, x: np.ndarray):
    out = np.concatenate([sess.run(None, {"kpm_window": x[i : i + 65536]})[0] for i in range(0, len(x), 65536)])
    return out[:, 0], out[:, 1]


def reexport(out: str, data: dict, metrics: dict, metrics_path: str) -> None:
    """Same weights, current graph layout: every fold re-scored through onnxruntime."""
    for fold in metrics["loto"]:
        held = fold["trial"]
        folder = os.path.join(out, "loto")
        model = load_weights(os.path.join(folder, f"{held}.onnx"))
        digest, sess, diff = ship(model, folder, held, f"slice-prb-forecaster-loto-{held}", data[held])
        p50, p90 = run_model(sess, data[held].x)
        fold.update(evaluate(data[held], p50, p90))
        fold.update({"sha256": digest, "onnx_check_max_abs_diff": diff})
        print(f"HELD OUT {held}: model MAE {fold['model_mae']:.4f} last value {fold['last_value_mae']:.4f}")
    model = load_weights(os.path.join(out, "slice_forecaster.onnx"))
    names = list(TRIALS)
    digest, sess, diff = ship(model, out, "slice_forecaster", "slice-prb-forecaster", data["multi-ue-trial1"])
    x, y, _, _, val, _ = training_set([data[t] for t in names])
    p50, p90 = run_model(sess, x[val])
    metrics["shipped"].update({"val_model_p50": errors(p50, y[val]), "val_p90_coverage": float(np.mean(y[val] <= p90 + 1e-6))})
    metrics.update({"sha256": digest, "onnx_check_max_abs_diff": diff})
    export_floor(os.path.join(out, "bench", "floor.onnx"))
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")


def rescore(out: str, data: dict, metrics: dict, metrics_path: str, folds: list[str], root: str) -> None:
    """No training, no export: the shipped fold graphs as they are, re-scored through
    onnxruntime on their held-out trial as read now (for a reader fix that changes the data)."""
    import onnxruntime as ort

    for fold in metrics["loto"]:
        held = fold["trial"]
        fold["skipped_rows"] = fold_skipped(root, held)
        if held not in folds:
            continue
        path = os.path.join(out, "loto", f"{held}.onnx")
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        if digest != fold["sha256"]:
            raise SystemExit(f"{path}: sha256 {digest} is not the one metrics.json scored")
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        p50, p90 = run_model(sess, data[held].x)
        for k in [k for k in fold if k in ("without_corrupt_windows",)]:
            del fold[k]
        fold.update(evaluate(data[held], p50, p90))
        fold["rescored"] = "held-out samples re-read with the millisecond-timestamp rule; weights unchanged"
        print(f"HELD OUT {held}: model MAE {fold['model_mae']:.4f} last value {fold['last_value_mae']:.4f} "
              f"ratio {fold['model_mae'] / fold['last_value_mae']:.3f} n {fold['n']}", flush=True)
        for g in fold["groups"]:
            print(f"    {g['ues']:>5} UEs n {g['n']:>6}: model {g['model_mae']:.4f} last value "
                  f"{g['last_value_mae']:.4f}", flush=True)
    metrics["skipped_rows"] = skipped_report(root)
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", default=os.path.normpath(os.path.join(here, "../../../shared/traces")),
                    help="root of the shared traces (holds tractor/ and tractor-trials/)")
    ap.add_argument("--out", default=here, help="folder of the shipped model (loto/ goes inside)")
    ap.add_argument("--only", action="append", default=None,
                    help="train only these folds (trial names; repeatable); skips the shipped model")
    ap.add_argument("--reexport", action="store_true",
                    help="no training: rebuild every graph from the weights of an export made before "
                         "the first layer was folded (mu / sd / w0 initializers), re-score and rewrite")
    ap.add_argument("--rescore", action="append", default=None, metavar="TRIAL",
                    help="no training, no export: re-score these folds' graphs as shipped on their "
                         "held-out trial as read now (repeatable) and rewrite metrics.json")
    args = ap.parse_args()
    t_start = time.time()
    data = {t: Samples.of_paths(args.traces, paths) for t, paths in TRIALS.items()}
    for t, s in data.items():
        print(f"{t}: {len(s)} samples, UE groups {sorted(set(s.ues.tolist()))}", flush=True)
    for cell, n in skipped_report(args.traces).items():
        print(f"{cell}: {n} rows skipped (Timestamp without millisecond precision)", flush=True)
    metrics_path = os.path.join(args.out, "metrics.json")
    old = json.load(open(metrics_path)) if os.path.exists(metrics_path) else {}
    if args.rescore:
        rescore(args.out, data, old, metrics_path, args.rescore, args.traces)
        return
    if args.reexport:
        reexport(args.out, data, old, metrics_path)
        return
    loto = {f["trial"]: f for f in old.get("loto", [])}
    for held in (args.only or TRIALS):
        names = [t for t in TRIALS if t != held]
        model, record = fit([data[t] for t in names], names, f"without {held}")
        stem = held
        digest, sess, diff = ship(model, os.path.join(args.out, "loto"), stem,
                                  f"slice-prb-forecaster-loto-{held}", data[held])
        p50, p90 = run_model(sess, data[held].x)
        res = evaluate(data[held], p50, p90)
        loto[held] = {"trial": held, "traces": TRIALS[held], "contract": f"loto/{stem}.contract.toml",
                      **res, "skipped_rows": fold_skipped(args.traces, held), "sha256": digest,
                      "onnx_check_max_abs_diff": diff, "training": record}
        print(f"HELD OUT {held}: model MAE {res['model_mae']:.4f} last value {res['last_value_mae']:.4f} "
              f"ratio {res['model_mae'] / res['last_value_mae']:.3f}", flush=True)
        for g in res["groups"]:
            print(f"    {g['ues']:>5} UEs n {g['n']:>6}: model {g['model_mae']:.4f} last value "
                  f"{g['last_value_mae']:.4f} mean4 {g['mean4_mae']:.4f}", flush=True)
    metrics = {k: v for k, v in old.items() if k not in ("loto",)}
    metrics["loto"] = [loto[t] for t in TRIALS if t in loto]
    if not args.only:
        names = list(TRIALS)
        model, record = fit([data[t] for t in names], names, "shipped")
        check = data["multi-ue-trial1"]
        digest, sess, diff = ship(model, args.out, "slice_forecaster", "slice-prb-forecaster", check)
        x, y, trial, _, val, _ = training_set([data[t] for t in names])
        p50, p90 = run_model(sess, x[val])
        metrics = {
            "version": VERSION,
            "window": WINDOW,
            "features": [f[0] for f in FEATURES],
            "derived_inputs": DERIVED,
            "trials": TRIALS,
            "loto": metrics["loto"],
            "shipped": {
                "trained_on": names,
                **record,
                "val_model_p50": errors(p50, y[val]),
                "val_baseline_last_value": errors(x[val][:, -1, PRB], y[val]),
                "val_p90_coverage": float(np.mean(y[val] <= p90 + 1e-6)),
            },
            "onnx_check_max_abs_diff": diff,
            "sha256": digest,
            "training_seconds": round(time.time() - t_start, 1),
            "skipped_rows": skipped_report(args.traces),
        }
        export_floor(os.path.join(args.out, "bench", "floor.onnx"))
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(f"done in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
