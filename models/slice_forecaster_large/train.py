#!/usr/bin/env python3
"""Train the larger slice PRB demand forecaster (`slice_forecaster_large.onnx` 1.0.0), the
remote model of issue 12: a longer history and a wider, deeper MLP than the edge model
(`models/slice_forecaster`), same inputs (the same 6 raw features; the runtime reads the
window from the contract) and same output (`prb_demand` [batch, 2], p50/p90 in PRB).

One command (pinned environment `models/requirements.txt`, seeds fixed):

    nice -n 10 .cache/train-venv/bin/python models/slice_forecaster_large/train.py

The data pipeline, the derived inputs, the model class, the split, the weights and the ONNX
export are those of `models/slice_forecaster/train.py`, imported (not copied); only the
window, the layer sizes and the schedule differ. For each held-out trial in `--folds` it
trains on the other five trials, exports `loto/<trial>.onnx` and scores it through
onnxruntime on ALL samples of the held-out trial that have a full long history, next to the
edge model's shipped fold graph (`../slice_forecaster/loto/<trial>.onnx`, fed the last 8
windows of the same samples) and last value, with a paired block bootstrap of the MAE
difference. Then it trains the shipped model on all six trials and measures the cost of both
graphs (onnxruntime, one thread). Everything goes to `metrics.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EDGE_DIR = os.path.normpath(os.path.join(HERE, "../slice_forecaster"))
# The edge model's pipeline, imported (not copied) under its own name.
_spec = importlib.util.spec_from_file_location("slice_forecaster_train", os.path.join(EDGE_DIR, "train.py"))
edge = importlib.util.module_from_spec(_spec)
sys.modules["slice_forecaster_train"] = edge
_spec.loader.exec_module(edge)

VERSION = "1.0.0"
NAME = "slice-prb-forecaster-large"
STEM = "slice_forecaster_large"
EDGE_WINDOW = edge.WINDOW
# Configurations tried per fold, (window, hidden layers, epochs, minibatch); each is an
# ensemble of the SEEDS below, averaged inside one graph. The best ensemble on the validation
# blocks of the training trials (mean of validation MAE / last value MAE over them) is that
# fold's model. A first grid with 16-window members ((128, 128) × 12 epochs and
# (128, 128, 64) × 10 epochs, minibatch 512) lost to the 8-window ensemble on validation in
# the one fold it finished (MODEL_CARD.md, "What was tried") and was dropped for time.
GRID = [
    (8, (64, 64), 12, 256),
    (8, (128, 128), 12, 256),
]
# Windows of history read for every sample: the longest window of the grid. With 8 the
# held-out samples are exactly the edge model's (its metrics.json figures are reproduced).
HISTORY = max(g[0] for g in GRID)
SEEDS = [7, 11, 23, 41, 59]
LR = 2e-3
# Held-out trials scored by default: the two multi-UE trials (80 % of the samples) and the
# largest single-UE trial; `--folds all` runs all six (not run for lack of time).
DEFAULT_FOLDS = ["multi-ue-trial1", "multi-ue-trial2", "single-ue-trial1"]
BOOT = 2000
BOOT_BLOCK = edge.BLOCK  # 240 consecutive samples of one slice's series = 60 s


def use_window(w: int) -> None:
    """The edge pipeline reads its module-level WINDOW and VERSION: set them to ours."""
    edge.WINDOW = w
    edge.VERSION = VERSION


class Ensemble:
    """Members of one configuration; p50 and p90 are the means of the members', then × cell
    PRBs and clipped, as the exported graph computes them (the mean of the members' *clipped*
    outputs differs wherever one member's p90 passes the carrier: on single-ue-trial6 by up
    to 0.19 PRB, which the export check caught)."""

    def __init__(self, window, members):
        self.window, self.members = window, members

    def predict(self, x):
        x = x[:, -self.window:]
        feats = edge.derived(x)
        last = np.clip(x[:, -1, edge.PRB], 0, edge.CELL_PRBS).astype(np.float32) / np.float32(edge.CELL_PRBS)
        p50s, p90s = [], []
        for m in self.members:
            _, p50, p90 = m.forward((feats - m.mu) / m.sd, last)
            p50s.append(p50)
            p90s.append(p90)
        cap = edge.CELL_PRBS
        return (np.clip(np.mean(p50s, axis=0) * cap, 0, cap), np.clip(np.mean(p90s, axis=0) * cap, 0, cap))


def fit(parts, names, label):
    x, y, trial, tr, val, wt = edge.training_set(parts)
    lv = {k: edge.errors(x[val & (trial == k)][:, -1, edge.PRB], y[val & (trial == k)])["mae"] for k in range(len(names))}

    def score(model):
        r = {}
        for k, name in enumerate(names):
            mk = val & (trial == k)
            r[name] = edge.errors(model.predict(x[mk])[0], y[mk])["mae"] / lv[k]
        return r, float(np.mean(list(r.values())))

    tried = []
    for window, hidden, epochs, batch in GRID:
        t0 = time.time()
        xt = x[tr][:, -window:]
        members = [edge.train_mlp(xt, y[tr], wt[tr], seed, hidden, epochs, LR, batch) for seed in SEEDS]
        ens = Ensemble(window, members)
        ratios, sc = score(ens)
        singles = [score(Ensemble(window, [m]))[1] for m in members]
        secs = time.time() - t0
        tried.append({"window": window, "hidden": list(hidden), "epochs": epochs, "batch": batch, "seeds": SEEDS,
                      "val_mae_over_last_value": ratios, "score": sc, "member_scores": singles,
                      "fit_seconds": round(secs, 1), "model": ens})
        print(f"[{label}] window {window} hidden {hidden} epochs {epochs} batch {batch} x{len(SEEDS)} seeds: "
              f"val MAE / last value {sc:.4f} (members {min(singles):.4f}-{max(singles):.4f}) ({secs:.0f} s)",
              flush=True)
    best = min(tried, key=lambda t: t["score"])
    record = {"selected": {k: best[k] for k in ("window", "hidden", "epochs", "batch", "seeds")},
              "lr": LR, "train_samples": int(tr.sum()), "val_samples": int(val.sum()),
              "tried": [{k: t[k] for k in t if k != "model"} for t in tried]}
    return best["model"], record


def export_ensemble(ens: Ensemble, path: str, name: str) -> None:
    """The edge graph's derived-input nodes (taken from `edge.export` of the first member, up
    to `derived_flat`), then all members at once: the first layers side by side in one MatMul,
    the others as one batched MatMul over a leading member axis; p50 / p90 per member as the
    edge model computes them, averaged over the members, × cell_prbs, clipped."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    use_window(ens.window)
    edge.export(ens.members[0], path, name)
    g = onnx.load(path).graph
    cut = next(i for i, n in enumerate(g.node) if "derived_flat" in n.output)
    nodes = list(g.node[: cut + 1])
    used = {i for n in nodes for i in n.input} | {"window_shape", "last_start", "last_end", "axis1", "zero", "cell_prbs"}
    inits = [t for t in g.initializer if t.name in used]
    f32 = lambda a, n: numpy_helper.from_array(np.asarray(a, dtype=np.float32), n)
    i64 = lambda a, n: numpy_helper.from_array(np.asarray(a, dtype=np.int64), n)
    K = len(ens.members)
    firsts = [edge.first_layer(m) for m in ens.members]
    w0 = np.concatenate([w.reshape(-1, w.shape[2]) for w, _ in firsts], axis=1)
    b0 = np.concatenate([b for _, b in firsts])
    h0 = firsts[0][0].shape[2]
    inits += [f32(w0, "ens_w0"), f32(b0, "ens_b0"), i64([-1, K, h0], "ens_split_shape"), i64([1, 1], "split2")]
    N = helper.make_node
    nodes += [N("MatMul", ["derived_flat", "ens_w0"], ["ens_mm0"]), N("Add", ["ens_mm0", "ens_b0"], ["ens_z0"]),
              N("Relu", ["ens_z0"], ["ens_a0"]),
              N("Reshape", ["ens_a0", "ens_split_shape"], ["ens_a0k"]),
              N("Transpose", ["ens_a0k"], ["ens_h0"], perm=[1, 0, 2])]  # [K, batch, h0]
    h = "ens_h0"
    layers = len(ens.members[0].w)
    for i in range(1, layers):
        w = np.stack([m.w[i] for m in ens.members])
        b = np.stack([m.b[i] for m in ens.members])[:, None, :]
        inits += [f32(w, f"ens_w{i}"), f32(b, f"ens_b{i}")]
        nodes += [N("MatMul", [h, f"ens_w{i}"], [f"ens_mm{i}"]), N("Add", [f"ens_mm{i}", f"ens_b{i}"], [f"ens_z{i}"])]
        h = f"ens_z{i}"
        if i < layers - 1:
            nodes.append(N("Relu", [h], [f"ens_a{i}"]))
            h = f"ens_a{i}"
    nodes += [
        N("Split", [h, "split2"], ["change", "spread_raw"], axis=2),  # [K, batch, 1] each
        N("Reshape", ["d0", "window_shape"], ["share_w"]),
        N("Slice", ["share_w", "last_start", "last_end", "axis1"], ["last_share"]),  # [batch, 1]
        N("Add", ["last_share", "change"], ["p50_lin"]),
        N("Max", ["p50_lin", "zero"], ["p50_raw"]),
        N("Softplus", ["spread_raw"], ["spread"]),
        N("Add", ["p50_raw", "spread"], ["p90_raw"]),
        N("Concat", ["p50_raw", "p90_raw"], ["q_k"], axis=2),
        N("ReduceMean", ["q_k"], ["q_raw"], axes=[0], keepdims=0),
        N("Mul", ["q_raw", "cell_prbs"], ["q_prb"]),
        N("Clip", ["q_prb", "zero", "cell_prbs"], ["prb_demand"]),
    ]
    graph = helper.make_graph(
        nodes, name.replace("-", "_"),
        [helper.make_tensor_value_info("kpm_window", TensorProto.FLOAT, ["batch", ens.window, len(edge.FEATURES)])],
        [helper.make_tensor_value_info("prb_demand", TensorProto.FLOAT, ["batch", 2])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ai-ran-xapp/slice_forecaster_large/train.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def ship(ens: Ensemble, folder: str, stem: str, name: str, check):
    """Export, hash, contract (`edge.write_contract`), onnxruntime vs numpy."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{stem}.onnx")
    export_ensemble(ens, path, name)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    edge.write_contract(os.path.join(folder, f"{stem}.contract.toml"), name, f"{stem}.onnx", digest)
    sess = session(path)
    x = np.ascontiguousarray(check.x[:4096, -ens.window:])
    got = sess.run(None, {"kpm_window": x})[0]
    p50, p90 = ens.predict(x)
    diff = float(max(np.max(np.abs(got[:, 0] - p50)), np.max(np.abs(got[:, 1] - p90))))
    assert diff < 1e-2, f"{path}: onnxruntime disagrees with numpy by {diff}"
    return digest, sess, diff


def block_bootstrap(a_err, b_err, seed=0):
    """Paired bootstrap of mean(a_err) - mean(b_err), resampling blocks of BOOT_BLOCK
    consecutive samples (samples are ordered cell, run, slice, start: a block is 60 s of one
    slice's series, occasionally straddling a series boundary)."""
    n = len(a_err)
    nb = int(math.ceil(n / BOOT_BLOCK))
    d = np.asarray(a_err, np.float64) - np.asarray(b_err, np.float64)
    sums = np.add.reduceat(d, np.arange(0, n, BOOT_BLOCK))
    cnts = np.add.reduceat(np.ones(n), np.arange(0, n, BOOT_BLOCK))
    rng = np.random.default_rng(seed)
    stats = np.empty(BOOT)
    for r in range(BOOT):
        k = rng.integers(0, nb, nb)
        stats[r] = sums[k].sum() / cnts[k].sum()
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi)


def session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def score_fold(held, s, sess_large, window):
    """Large vs edge fold graph vs last value on the same held-out samples."""
    p50, p90 = edge.run_model(sess_large, np.ascontiguousarray(s.x[:, -window:]))
    sess_edge = session(os.path.join(EDGE_DIR, "loto", f"{held}.onnx"))
    out = np.concatenate([sess_edge.run(None, {"kpm_window": np.ascontiguousarray(s.x[i : i + 65536, -EDGE_WINDOW:])})[0]
                          for i in range(0, len(s), 65536)])
    e50 = out[:, 0]
    y = s.y.astype(np.float64)
    el, ee, ev = np.abs(p50 - y), np.abs(e50 - y), np.abs(s.last - y)
    d, lo, hi = block_bootstrap(el, ee)
    dl, lol, hil = block_bootstrap(el, ev, seed=1)
    res = {
        "n": len(s),
        "large_mae": float(el.mean()), "edge_mae": float(ee.mean()), "last_value_mae": float(ev.mean()),
        "large_over_edge": float(el.mean() / ee.mean()), "large_over_last_value": float(el.mean() / ev.mean()),
        "edge_over_last_value": float(ee.mean() / ev.mean()),
        "mae_diff_large_minus_edge": d, "mae_diff_ci95": [lo, hi],
        "mae_diff_large_minus_last_value": dl, "mae_diff_last_value_ci95": [lol, hil],
        "large_rmse": edge.errors(p50, y)["rmse"], "edge_rmse": edge.errors(e50, y)["rmse"],
        "last_value_rmse": edge.errors(s.last, y)["rmse"],
        "large_p90_coverage": float(np.mean(y <= p90 + 1e-6)),
        "groups": [],
    }
    for u in sorted(set(s.ues.tolist())):
        mk = s.ues == u
        res["groups"].append({"ues": int(u), "n": int(mk.sum()), "large_mae": float(el[mk].mean()),
                              "edge_mae": float(ee[mk].mean()), "last_value_mae": float(ev[mk].mean())})
    return res


def flops(path):
    """Parameters and multiply-adds per row of the MatMul layers of a graph."""
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    params = int(sum(a.size for a in init.values() if a.ndim >= 1 and a.size > 16))
    macs = int(sum(a.size for k, a in init.items() if a.ndim >= 2 and k.startswith(("w", "ens_w"))))
    return {"parameters": params, "matmul_macs_per_row": macs, "bytes": os.path.getsize(path)}


def latency(paths: dict, x16: np.ndarray, window: int, runs=400):
    """onnxruntime CPU, one thread, interleaved: p50/p99 µs per batch of 1/16/64 rows."""
    sess = {k: session(p) for k, p in paths.items()}
    out = {}
    for bs in (1, 16, 64):
        xb = {"large": np.ascontiguousarray(x16[:bs, -window:]), "edge": np.ascontiguousarray(x16[:bs, -EDGE_WINDOW:])}
        times = {k: [] for k in sess}
        for k in sess:
            for _ in range(20):
                sess[k].run(None, {"kpm_window": xb[k]})
        for _ in range(runs):
            for k in sess:
                t0 = time.perf_counter_ns()
                sess[k].run(None, {"kpm_window": xb[k]})
                times[k].append((time.perf_counter_ns() - t0) / 1000.0)
        out[str(bs)] = {k: {"p50_us": float(np.percentile(v, 50)), "p99_us": float(np.percentile(v, 99)),
                            "min_us": float(np.min(v))} for k, v in times.items()}
        print(f"batch {bs}: " + ", ".join(f"{k} p50 {out[str(bs)][k]['p50_us']:.0f} µs p99 "
                                         f"{out[str(bs)][k]['p99_us']:.0f} µs" for k in sess), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", default=os.path.normpath(os.path.join(HERE, "../../../shared/traces")))
    ap.add_argument("--folds", action="append", default=None,
                    help=f"held-out trials to score (repeatable; 'all' = six; default {DEFAULT_FOLDS})")
    ap.add_argument("--no-ship", action="store_true", help="score folds only; no shipped model")
    ap.add_argument("--bench-only", action="store_true", help="only re-measure latency and size")
    args = ap.parse_args()
    folds = DEFAULT_FOLDS if not args.folds else (list(edge.TRIALS) if args.folds == ["all"] else args.folds)
    use_window(HISTORY)
    t_start = time.time()
    metrics_path = os.path.join(HERE, "metrics.json")
    metrics = json.load(open(metrics_path)) if os.path.exists(metrics_path) else {}
    data = {t: edge.Samples.of_paths(args.traces, p) for t, p in edge.TRIALS.items()}
    for t, s in data.items():
        print(f"{t}: {len(s)} samples with {HISTORY} windows of history", flush=True)
    print(f"data read in {time.time() - t_start:.0f} s", flush=True)
    large_path = os.path.join(HERE, f"{STEM}.onnx")
    if not args.bench_only:
        loto = {f["trial"]: f for f in metrics.get("loto", [])}
        for held in folds:
            names = [t for t in edge.TRIALS if t != held]
            model, record = fit([data[t] for t in names], names, f"without {held}")
            digest, sess, diff = ship(model, os.path.join(HERE, "loto"), held, f"{NAME}-loto-{held}", data[held])
            res = score_fold(held, data[held], sess, model.window)
            loto[held] = {"trial": held, "contract": f"loto/{held}.contract.toml", "edge_fold_graph":
                          f"../slice_forecaster/loto/{held}.onnx", **res, "sha256": digest,
                          "onnx_check_max_abs_diff": diff, "training": record}
            print(f"HELD OUT {held}: large {res['large_mae']:.4f} edge {res['edge_mae']:.4f} last value "
                  f"{res['last_value_mae']:.4f} large/edge {res['large_over_edge']:.3f} diff "
                  f"{res['mae_diff_large_minus_edge']:+.4f} CI [{res['mae_diff_ci95'][0]:+.4f}, "
                  f"{res['mae_diff_ci95'][1]:+.4f}]", flush=True)
            metrics["loto"] = [loto[t] for t in edge.TRIALS if t in loto]
            with open(metrics_path, "w") as f:
                json.dump(metrics, f, indent=2)
        if not args.no_ship:
            names = list(edge.TRIALS)
            model, record = fit([data[t] for t in names], names, "shipped")
            digest, sess, diff = ship(model, HERE, STEM, NAME, data["multi-ue-trial1"])
            metrics.update({"shipped": {"trained_on": names, **record}, "sha256": digest,
                            "onnx_check_max_abs_diff": diff})
    metrics.update({
        "version": VERSION, "history_read": HISTORY, "edge_window": EDGE_WINDOW,
        "features": [f[0] for f in edge.FEATURES], "derived_inputs": edge.DERIVED,
        "evaluation": f"held-out trial, all its samples with {HISTORY} windows of history; edge = the edge "
                      "model's shipped fold graph on the last 8 windows of the same samples; CI: paired "
                      "bootstrap, 2000 resamples of 240-sample (60 s) blocks",
    })
    if os.path.exists(large_path):
        metrics["cost"] = {"large": flops(large_path),
                           "edge": flops(os.path.join(EDGE_DIR, "slice_forecaster.onnx")),
                           "latency_onnxruntime_1_thread": latency(
                               {"large": large_path, "edge": os.path.join(EDGE_DIR, "slice_forecaster.onnx")},
                               data["multi-ue-trial1"].x[5000:5064], metrics["shipped"]["selected"]["window"])}
    if not args.bench_only:
        metrics["training_seconds"] = round(time.time() - t_start, 1)
        metrics.setdefault("runs", []).append({"argv": sys.argv[1:], "folds": folds, "shipped": not args.no_ship,
                                               "seconds": metrics["training_seconds"]})
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(f"done in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
