#!/usr/bin/env python3
"""What the shipped slice policy does differently from proportional on the labelled training
states (target/policy-data, written by scripts/train-policy.sh). Run with the training venv:
.cache/train-venv/bin/python models/slice_policy/what_it_learned.py"""
import json, numpy as np, onnxruntime as ort, sys
sys.path.insert(0, "models/slice_policy")
d = "target/policy-data"
meta = json.load(open(d + "/meta.json"))
n = meta["samples"]; s, w, f = meta["row_shape"]
x = np.fromfile(d + "/x.f32", dtype="<f4").reshape(n, s, w, f)
req = meta["features"].index("VS.PrbReqDl"); buf = meta["features"].index("VS.DlBufferBytes")
sess = ort.InferenceSession("models/slice_policy/slice_policy.onnx", providers=["CPUExecutionProvider"])
q = sess.run(None, {"cell_state": x})[0][:, :, 0]
dem = np.maximum(x[:, :, -1, req], 0)
tot = dem.sum(1, keepdims=True)
prop = np.where(tot > 0, 5 + 85 * dem / np.maximum(tot, 1e-9), 5 + 85 / 3)
diff = q - prop
differs = np.abs(diff).max(1) > 0.5
asking = (dem > 0).sum(1)
cont = asking >= 2
names = ["eMBB", "URLLC", "mMTC"]
print(f"states {n}; quotas differ from proportional by > 0.5 pp: {differs.mean():.1%}; states where >=2 slices ask: {cont.mean():.1%}; of those differing: {differs[cont].mean():.1%}")
for i, nm in enumerate(names):
    m = cont & (dem[:, i] > 0)
    print(f"{nm}: when it asks and another slice asks ({m.sum()} states): mean policy-proportional {diff[m, i].mean():+.2f} pp, more in {(diff[m,i]>0.5).mean():.0%}, less in {(diff[m,i]<-0.5).mean():.0%}; demand share {(dem[m,i]/tot[m,0]).mean():.2f}")
# by demand share of URLLC
for i, nm in enumerate(names):
    m = cont & (dem[:, i] > 0)
    sh = dem[m, i] / tot[m, 0]
    for lo, hi in [(0, .2), (.2, .5), (.5, 1.01)]:
        k = (sh >= lo) & (sh < hi)
        if k.sum():
            print(f"  {nm} demand share {lo:.1f}-{hi:.1f}: n={k.sum()} mean diff {diff[m][k, i].mean():+.2f} pp")
