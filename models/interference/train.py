#!/usr/bin/env python3
"""Train the per-UE interference model on the ucc5g operator recordings; export it to ONNX.

One command (pinned environment `models/requirements.txt`, seeds fixed):

    /work/main/.cache/train-venv/bin/python models/interference/train.py

It reads `../shared/traces/ucc5g` (or `--traces`) through `testbed/mappings/ucc5g-ue.toml`
with the rules of the Rust reader `testbed::radio::trace` (below), builds one sample per UE
second with the rules of `nf_core::radio_features::write_row`, trains a small MLP on the
TRAINING recordings only, scores it and the baselines on the HELD-OUT recordings from
onnxruntime's outputs, and writes `interference.onnx`, `interference.contract.toml` and
`metrics.json` (the model card quotes them).

Reader rules (identical to `testbed::radio::trace`):
  * `-` / empty = missing; a value outside the mapping's `valid` range is a "not measured"
    sentinel of the phone (NRxRSRP -205, NRxRSRQ -204 / -225 / 2147483647 ...): missing;
  * radio measurements only in rows whose NetworkMode is 5G or LTE (`radio_modes`);
  * a repeated second: the later row replaces the earlier; a step back in time: dropped;
  * the neighbour exists when its RSRP does (RSRQ optional).

Sample (one per recording and newest second i):
  * input: the recording's samples i-4 .. i (5 consecutive kept samples, t[i] - t[i-4] <=
    6 s: at most two missing seconds), the row as `write_row` builds it (missing values take
    the latest earlier value of the window; RSRP and SNR present in the newest period;
    neighbour absent -> Present 0 and the latest earlier neighbour values or the floor
    -156 dBm / -43 dB);
  * target `loss_db`: mean over the samples in (t[i], t[i] + 3 s] (at least 2 with RSRP and
    SNR) of L = (RSRP - NOISE_PER_RE_DBM) - SNR, floored at 0, NOISE_PER_RE_DBM = -122.2 dBm
    (`UeRadio::interference_loss_db`). No label is invented: L is the phone's measured SNR
    against the no-interference reference its own RSRP and the thermal floor give;
  * target `limited`: loss_db >= LIMITED_DB (30 dB; see the model card for why).

Split: by recording, `is_test_recording` (FNV-1a 64 of the file name mod 10 in {0, 1, 2}):
16 of 62 recordings held out (10 driving, 6 static). Tuning (epochs, the A3 offset) uses
the training recordings only (a validation subset of them, also by recording).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import time
import tomllib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VERSION = "1.0.0"
WINDOW = 5
HORIZON_MS = 3000
MAX_WINDOW_SPAN_MS = 6000
MIN_TARGET_SAMPLES = 2
NOISE_PER_RE_DBM = -122.2
LIMITED_DB = 30.0
NBR_RSRP_FLOOR = -156.0
NBR_RSRQ_FLOOR = -43.0
SEED = 20240610
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FEATURES = [
    ("L1M.SS-RSRP", "dBm", "serving RSRP of the UE in the period"),
    ("L1M.SS-RSRQ", "dB", "serving RSRQ"),
    ("L1M.SS-SINR", "dB", "serving SINR (the phone's SNR)"),
    ("CARR.WBCQIDist", "CQI", "wideband CQI 0..15"),
    ("VS.Nbr1.SS-RSRP", "dBm", "vendor-specific: strongest neighbour's RSRP (-156 if none heard in the window)"),
    ("VS.Nbr1.SS-RSRQ", "dB", "vendor-specific: strongest neighbour's RSRQ (-43 if none heard in the window)"),
    ("DRB.UEThpDl", "kbit/s", "DL throughput of the UE"),
    ("VS.Nbr1.Present", "flag", "vendor-specific: 1 if a neighbour was reported in the period, else 0"),
]
F = len(FEATURES)
RSRP, RSRQ, SINR, CQI, NRSRP, NRSRQ, THP, NPRES = range(F)


# ----------------------------------------------------------------------------- reading
def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def is_test_recording(name: str) -> bool:
    return fnv1a64(name.replace("\\", "/").rsplit("/", 1)[-1]) % 10 < 3


def load_mapping(path):
    with open(path, "rb") as f:
        m = tomllib.load(f)
    # strftime of the mapping (%Y.%m.%d_%H.%M.%S) is also valid for Python's strptime.
    return m


def read_recording(path, name, m):
    """Samples of one recording: list of dicts (t_ms, cell, mode, vals{name: float|None})."""
    miss = set(m["format"]["missing"])
    radio_modes = set(m["radio_modes"])
    specs = m["measurement"]
    out = []
    with open(path, newline="") as f:
        rd = csv.reader(f)
        header = [h.strip() for h in next(rd)]
        idx = {h: i for i, h in enumerate(header)}
        for line, row in enumerate(rd, start=2):
            if len(row) != len(header):
                raise ValueError(f"{path}:{line}: {len(row)} fields")
            g = lambda c: row[idx[c]].strip()
            t = dt.datetime.strptime(g(m["time"]["column"]), m["time"]["format"])
            t_ms = int(t.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
            mode = g(m["keys"]["mode"])
            radio_row = mode in radio_modes
            vals = {}
            for s in specs:
                raw = g(s["column"])
                name_ = s["name"]
                is_radio = name_ not in ("DRB.UEThpDl", "RRU.PrbUsedDl")
                if raw in miss:
                    vals[name_] = None
                    continue
                v = float(raw)
                if not np.isfinite(v):
                    raise ValueError(f"{path}:{line}: {s['column']} = {raw}")
                if is_radio and not radio_row:
                    vals[name_] = None
                    continue
                v = float(np.float32(v))
                lo, hi = s["valid"]
                vals[name_] = v if lo <= v <= hi else None
            smp = dict(t_ms=t_ms, cell=int(g(m["keys"]["serving_cell"])), mode=mode, vals=vals)
            if out and t_ms == out[-1]["t_ms"]:
                out[-1] = smp
            elif out and t_ms < out[-1]["t_ms"]:
                continue
            else:
                out.append(smp)
    return out


def read_all(root, m):
    recs = []
    for dirpath, _, files in os.walk(root):
        for fn in files:
            if fn.endswith(".csv"):
                p = os.path.join(dirpath, fn)
                name = os.path.relpath(p, root).replace(os.sep, "/")
                recs.append((name, p))
    recs.sort()
    return [(name, "/Driving/" in f"/{name}", read_recording(p, name, m)) for name, p in recs]


# ----------------------------------------------------------------------------- samples
def loss_of(v):
    if v["L1M.SS-RSRP"] is None or v["L1M.SS-SINR"] is None:
        return None
    return max(0.0, (v["L1M.SS-RSRP"] - NOISE_PER_RE_DBM) - v["L1M.SS-SINR"])


def write_row(win):
    """As nf_core::radio_features::write_row; None when refused."""
    new = win[-1]["vals"]
    if new["L1M.SS-RSRP"] is None or new["L1M.SS-SINR"] is None:
        return None
    row = np.zeros((WINDOW, F), np.float32)
    for name, j in (("L1M.SS-RSRP", RSRP), ("L1M.SS-RSRQ", RSRQ), ("L1M.SS-SINR", SINR),
                    ("CARR.WBCQIDist", CQI), ("DRB.UEThpDl", THP)):
        last = None
        for t, s in enumerate(win):
            v = s["vals"][name]
            last = v if v is not None else last
            if last is None:
                return None
            row[t, j] = last
    rsrp, rsrq = NBR_RSRP_FLOOR, NBR_RSRQ_FLOOR
    for t, s in enumerate(win):
        nr = s["vals"]["VS.Nbr1.SS-RSRP"]
        if nr is not None:
            rsrp = nr
            q = s["vals"]["VS.Nbr1.SS-RSRQ"]
            rsrq = q if q is not None else rsrq
        row[t, NRSRP], row[t, NRSRQ], row[t, NPRES] = rsrp, rsrq, 1.0 if nr is not None else 0.0
    return row


def samples_of(recs):
    """X [n,5,8], loss target [n], current loss [n], a3 margin [n] (nbr - serving RSRP of the
    newest period, -inf without a neighbour), recording index [n]."""
    X, Y, CUR, A3, REC = [], [], [], [], []
    for ri, (_, _, smp) in enumerate(recs):
        ts = [s["t_ms"] for s in smp]
        n = len(smp)
        for i in range(WINDOW - 1, n):
            if ts[i] - ts[i - WINDOW + 1] > MAX_WINDOW_SPAN_MS:
                continue
            fut = []
            k = i + 1
            while k < n and ts[k] - ts[i] <= HORIZON_MS:
                L = loss_of(smp[k]["vals"])
                if L is not None:
                    fut.append(L)
                k += 1
            if len(fut) < MIN_TARGET_SAMPLES:
                continue
            row = write_row(smp[i - WINDOW + 1 : i + 1])
            if row is None:
                continue
            v = smp[i]["vals"]
            X.append(row)
            Y.append(float(np.mean(fut)))
            CUR.append(loss_of(v))
            nr = v["VS.Nbr1.SS-RSRP"]
            A3.append(nr - v["L1M.SS-RSRP"] if nr is not None else -np.inf)
            REC.append(ri)
    return (np.array(X, np.float32), np.array(Y, np.float32), np.array(CUR, np.float32),
            np.array(A3, np.float32), np.array(REC, np.int32))


# ----------------------------------------------------------------------------- metrics
def balanced_accuracy(y, pred):
    y = y.astype(bool)
    pred = pred.astype(bool)
    tpr = (pred & y).sum() / max(1, y.sum())
    tnr = (~pred & ~y).sum() / max(1, (~y).sum())
    return 0.5 * (tpr + tnr)


def auc(y, score):
    """Rank AUC (ties count half)."""
    y = y.astype(bool)
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s), np.float64)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    npos, nneg = y.sum(), (~y).sum()
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / max(1, npos * nneg))


def tune_a3(margin, y):
    """Offset maximising balanced accuracy of `nbr >= rsrp - offset` (margin >= -offset)."""
    best = (-1.0, 0.0)
    for off in np.arange(-20.0, 30.01, 0.5):
        ba = balanced_accuracy(y, margin >= -off)
        if ba > best[0]:
            best = (ba, float(off))
    return best[1], best[0]


# ----------------------------------------------------------------------------- model
def init(rng, sizes):
    return [(rng.normal(0, np.sqrt(2.0 / a), (a, b)).astype(np.float64), np.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]


def softplus(z):
    return np.logaddexp(0.0, z)


def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def forward(params, Xn):
    hs = [Xn]
    h = Xn
    for W, b in params[:-1]:
        h = np.maximum(0.0, h @ W + b)
        hs.append(h)
    W, b = params[-1]
    z = h @ W + b
    return hs, z


def predict(params, Xn, loss_scale):
    _, z = forward(params, Xn)
    return softplus(z[:, 0]) * loss_scale, sigmoid(z[:, 1])


def train_mlp(Xn, y_loss, y_lim, epochs, seed, loss_scale, hidden=(64, 32), lr=2e-3, batch=512, w_pos=1.0):
    rng = np.random.default_rng(seed)
    params = init(rng, [Xn.shape[1], *hidden, 2])
    m = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    v = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    step = 0
    t_loss = y_loss / loss_scale
    for _ in range(epochs):
        perm = rng.permutation(len(Xn))
        for k in range(0, len(perm), batch):
            idx = perm[k : k + batch]
            hs, z = forward(params, Xn[idx])
            n = len(idx)
            # Huber on the scaled loss (delta 1 = loss_scale dB), class-weighted BCE.
            pl = softplus(z[:, 0])
            d = pl - t_loss[idx]
            g_pl = np.clip(d, -1.0, 1.0)
            g0 = g_pl * sigmoid(z[:, 0])
            yl = y_lim[idx]
            wt = np.where(yl > 0.5, w_pos, 1.0)
            g1 = (sigmoid(z[:, 1]) - yl) * wt
            gz = np.stack([g0, g1], 1) / n
            grads = []
            g = gz
            for li in range(len(params) - 1, -1, -1):
                W, b = params[li]
                gW = hs[li].T @ g
                gb = g.sum(0)
                grads.append((gW + 1e-5 * W, gb))
                if li > 0:
                    g = (g @ W.T) * (hs[li] > 0)
            grads.reverse()
            step += 1
            for li, ((W, b), (gW, gb)) in enumerate(zip(params, grads)):
                mW, mb = m[li]
                vW, vb = v[li]
                mW = 0.9 * mW + 0.1 * gW
                mb = 0.9 * mb + 0.1 * gb
                vW = 0.999 * vW + 0.001 * gW * gW
                vb = 0.999 * vb + 0.001 * gb * gb
                m[li], v[li] = (mW, mb), (vW, vb)
                c1, c2 = 1 - 0.9**step, 1 - 0.999**step
                params[li] = (W - lr * (mW / c1) / (np.sqrt(vW / c2) + 1e-8),
                              b - lr * (mb / c1) / (np.sqrt(vb / c2) + 1e-8))
    return params


# ----------------------------------------------------------------------------- ONNX
def export(params, mean, std, loss_scale, path):
    inits = [
        numpy_helper.from_array(np.array([-1, WINDOW * F], np.int64), "flat_shape"),
        numpy_helper.from_array(mean.astype(np.float32), "mean"),
        numpy_helper.from_array(std.astype(np.float32), "std"),
        numpy_helper.from_array(np.array([loss_scale], np.float32), "loss_scale"),
        numpy_helper.from_array(np.array([0], np.int64), "i0"),
        numpy_helper.from_array(np.array([1], np.int64), "i1"),
        numpy_helper.from_array(np.array([2], np.int64), "i2"),
    ]
    nodes = [
        helper.make_node("Reshape", ["radio_window", "flat_shape"], ["flat"]),
        helper.make_node("Sub", ["flat", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["h0"]),
    ]
    h = "h0"
    for li, (W, b) in enumerate(params):
        inits += [numpy_helper.from_array(W.astype(np.float32), f"W{li}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{li}")]
        out = f"z{li}" if li == len(params) - 1 else f"a{li}"
        nodes.append(helper.make_node("Gemm", [h, f"W{li}", f"b{li}"], [out if li == len(params) - 1 else f"g{li}"]))
        if li < len(params) - 1:
            nodes.append(helper.make_node("Relu", [f"g{li}"], [out]))
        h = out
    nodes += [
        helper.make_node("Slice", [h, "i0", "i1", "i1"], ["z_loss"]),
        helper.make_node("Slice", [h, "i1", "i2", "i1"], ["z_p"]),
        helper.make_node("Softplus", ["z_loss"], ["sp"]),
        helper.make_node("Mul", ["sp", "loss_scale"], ["loss_db"]),
        helper.make_node("Sigmoid", ["z_p"], ["p_limited"]),
        helper.make_node("Concat", ["loss_db", "p_limited"], ["interference"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "interference",
        [helper.make_tensor_value_info("radio_window", TensorProto.FLOAT, ["batch", WINDOW, F])],
        [helper.make_tensor_value_info("interference", TensorProto.FLOAT, ["batch", 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="airan-train")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def run_onnx(path, X):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s.run(["interference"], {"radio_window": X})[0]


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--traces", default=os.path.join(ROOT, "..", "shared", "traces", "ucc5g"))
    ap.add_argument("--mapping", default=os.path.join(ROOT, "testbed", "mappings", "ucc5g-ue.toml"))
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--bootstrap", type=int, default=2000)
    args = ap.parse_args()
    t0 = time.time()
    m = load_mapping(args.mapping)
    recs = read_all(args.traces, m)
    X, Y, CUR, A3M, REC = samples_of(recs)
    names = [r[0] for r in recs]
    is_test = np.array([is_test_recording(n) for n in names])
    te = is_test[REC]
    tr = ~te
    Ylim = (Y >= LIMITED_DB).astype(np.float64)
    print(f"{len(recs)} recordings ({is_test.sum()} held out), {len(X)} samples "
          f"({tr.sum()} train, {te.sum()} test), read in {time.time() - t0:.1f} s")

    # Validation inside the training recordings, by recording: every 4th training recording.
    tr_idx = [i for i in range(len(recs)) if not is_test[i]]
    val_recs = set(tr_idx[3::4])
    va = tr & np.isin(REC, list(val_recs))
    fit = tr & ~va

    Xf = X.reshape(len(X), -1).astype(np.float64)
    mean = Xf[tr].mean(0)
    std = Xf[tr].std(0)
    std[std < 1e-3] = 1.0
    Xn = (Xf - mean) / std
    loss_scale = 10.0
    w_pos = float((1 - Ylim[tr].mean()) / max(1e-6, Ylim[tr].mean()))

    # Epoch count chosen on the validation recordings.
    t1 = time.time()
    best = None
    for epochs in (4, 8, 16):
        p = train_mlp(Xn[fit], Y[fit], Ylim[fit], epochs, SEED, loss_scale, w_pos=w_pos)
        lp, pp = predict(p, Xn[va], loss_scale)
        ba = balanced_accuracy(Ylim[va], pp >= 0.5)
        mae = float(np.abs(lp - Y[va]).mean())
        print(f"  epochs {epochs}: validation balanced accuracy {ba:.4f}, loss MAE {mae:.3f} dB")
        if best is None or ba > best[0]:
            best = (ba, epochs)
    epochs = best[1]
    params = train_mlp(Xn[tr], Y[tr], Ylim[tr], epochs, SEED, loss_scale, w_pos=w_pos)
    train_s = time.time() - t1

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "interference.onnx")
    export(params, mean, std, loss_scale, onnx_path)
    out = run_onnx(onnx_path, X)
    lp_np, pp_np = predict(params, Xn, loss_scale)
    max_dev = float(max(np.abs(out[:, 0] - lp_np).max(), np.abs(out[:, 1] - pp_np).max()))
    print(f"onnxruntime vs numpy: max |difference| {max_dev:.2e}")
    assert max_dev < 1e-3, max_dev

    off, a3_train_ba = tune_a3(A3M[tr], Ylim[tr])
    persist_train = balanced_accuracy(Ylim[tr], CUR[tr] >= LIMITED_DB)

    # Held-out evaluation from onnxruntime's outputs.
    lo, po = out[te, 0].astype(np.float64), out[te, 1].astype(np.float64)
    yt, lt, ct, at, rt = Ylim[te], Y[te].astype(np.float64), CUR[te].astype(np.float64), A3M[te], REC[te]

    def metrics(sel):
        y = yt[sel]
        return dict(
            model_ba=balanced_accuracy(y, po[sel] >= 0.5),
            a3_ba=balanced_accuracy(y, at[sel] >= -off),
            persist_ba=balanced_accuracy(y, ct[sel] >= LIMITED_DB),
            model_mae=float(np.abs(lo[sel] - lt[sel]).mean()),
            last_mae=float(np.abs(ct[sel] - lt[sel]).mean()),
        )

    full = metrics(np.ones(len(yt), bool))
    model_auc = auc(yt, po)
    a3_auc = auc(yt, np.where(np.isfinite(at), at, -1e3))
    persist_auc = auc(yt, ct)
    # Bootstrap over held-out recordings (resampled with replacement).
    rng = np.random.default_rng(SEED)
    test_ids = np.unique(rt)
    by_rec = {r: np.nonzero(rt == r)[0] for r in test_ids}
    diffs_a3, diffs_p, diffs_mae = [], [], []
    for _ in range(args.bootstrap):
        pick = rng.choice(test_ids, len(test_ids), replace=True)
        sel = np.concatenate([by_rec[r] for r in pick])
        y = yt[sel]
        mb = balanced_accuracy(y, po[sel] >= 0.5)
        diffs_a3.append(mb - balanced_accuracy(y, at[sel] >= -off))
        diffs_p.append(mb - balanced_accuracy(y, ct[sel] >= LIMITED_DB))
        diffs_mae.append(float(np.abs(ct[sel] - lt[sel]).mean() - np.abs(lo[sel] - lt[sel]).mean()))
    ci = lambda d: [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]
    per_rec = []
    for r in test_ids:
        sel = rt == r
        mm = metrics(sel)
        per_rec.append(dict(recording=names[r], driving=recs[r][1], samples=int(sel.sum()),
                            base_rate=float(yt[sel].mean()),
                            **{k: round(float(v), 4) for k, v in mm.items()}))
    drv = np.array([recs[r][1] for r in rt])
    by_mode = {k: {kk: round(float(vv), 4) for kk, vv in metrics(s).items()}
               for k, s in (("driving", drv), ("static", ~drv))}

    # Base rates at other thresholds, for the card.
    base = {f"{t:g}": float((Y[tr] >= t).mean()) for t in (10.4, 20.0, 25.0, 30.0, 35.0, 40.0)}

    sha = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
    write_contract(os.path.join(args.out, "interference.contract.toml"), sha)
    res = dict(
        version=VERSION,
        data=dict(recordings=len(recs), held_out=int(is_test.sum()),
                  held_out_driving=int(sum(recs[i][1] for i in range(len(recs)) if is_test[i])),
                  samples_train=int(tr.sum()), samples_test=int(te.sum()),
                  test_recordings=[names[i] for i in range(len(recs)) if is_test[i]]),
        target=dict(loss="mean (RSRP - (-122.2 dBm)) - SNR over (t, t+3 s], floored at 0",
                    limited_db=LIMITED_DB, base_rate_train=float(Ylim[tr].mean()),
                    base_rate_test=float(yt.mean()), base_rate_train_by_threshold=base),
        primary_metric="balanced accuracy of limited (loss over the next 3 s >= 30 dB), model p_limited >= 0.5",
        heldout=dict(
            model_balanced_accuracy=full["model_ba"],
            a3_balanced_accuracy=full["a3_ba"],
            persistence_balanced_accuracy=full["persist_ba"],
            margin_vs_a3=full["model_ba"] - full["a3_ba"],
            margin_vs_a3_ci95=ci(diffs_a3),
            margin_vs_persistence=full["model_ba"] - full["persist_ba"],
            margin_vs_persistence_ci95=ci(diffs_p),
            model_auc=model_auc, a3_auc=a3_auc, persistence_auc=persist_auc,
            model_loss_mae_db=full["model_mae"], last_value_loss_mae_db=full["last_mae"],
            mae_gain_db=full["last_mae"] - full["model_mae"], mae_gain_ci95=ci(diffs_mae),
            by_mode=by_mode, per_recording=per_rec,
        ),
        a3=dict(offset_db=off, train_balanced_accuracy=a3_train_ba,
                rule="limited iff nbr_rsrp >= rsrp - offset_db (newest period); no neighbour: not limited"),
        persistence=dict(train_balanced_accuracy=persist_train,
                         rule="limited iff the newest period's loss >= 30 dB"),
        training=dict(seed=SEED, epochs=epochs, hidden=[64, 32], validation_balanced_accuracy=best[0],
                      train_seconds=round(train_s, 1), total_seconds=round(time.time() - t0, 1),
                      onnx_vs_numpy_max_abs=max_dev, class_weight_limited=w_pos),
        tolerance=dict(rust_recompute_abs=1e-3),
        sha256=sha,
    )
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(res, f, indent=1)
    h = res["heldout"]
    print(f"held-out: model BA {h['model_balanced_accuracy']:.4f} vs A3 (offset {off:+.1f} dB) "
          f"{h['a3_balanced_accuracy']:.4f}: margin {h['margin_vs_a3']:+.4f} CI {h['margin_vs_a3_ci95']}; "
          f"persistence {h['persistence_balanced_accuracy']:.4f}; AUC {model_auc:.4f} / {a3_auc:.4f} / {persist_auc:.4f}; "
          f"loss MAE {h['model_loss_mae_db']:.3f} vs last {h['last_value_loss_mae_db']:.3f} dB")
    print(f"done in {time.time() - t0:.1f} s (training {train_s:.1f} s)")


def write_contract(path, sha):
    lines = [
        "# Contract of interference.onnx, written by train.py. The runtime refuses the model when",
        "# the file's sha256, its input/output names, shapes or element types differ.",
        'name = "interference"',
        f'version = "{VERSION}"',
        'kind = "interference"',
        'file = "interference.onnx"',
        f'sha256 = "{sha}"',
        "report_period_ms = 1000",
        "",
        "[input]",
        'name = "radio_window"',
        'dtype = "float32"',
        f"shape = [-1, {WINDOW}, {F}]",
        'layout = "batch (one row per UE), report period (1 s each, oldest first), feature; raw units, the graph normalises; built by nf_core::radio_features::write_row"',
    ]
    for n, u, mean in FEATURES:
        lines += ["", "[[input.features]]", f'name = "{n}"', f'unit = "{u}"', f'meaning = "{mean}"']
    lines += [
        "",
        "[[outputs]]",
        'name = "interference"',
        'dtype = "float32"',
        "shape = [-1, 2]",
        'unit = "dB, probability"',
        'columns = ["loss_db", "p_limited"]',
        f'meaning = "loss_db: predicted mean interference loss over the next 3 s, (RSRP - NOISE_PER_RE_DBM) - SINR >= 0 [dB]; p_limited: probability that this mean is >= {LIMITED_DB:g} dB (interference-limited, see MODEL_CARD.md)"',
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
