"""Writes the two garbage interference models of the tests (contract-valid interface,
deliberately bad outputs; not models of anything):

- nan_interference.onnx: answers NaN for every UE (refused by the start-up canary);
- edge_nan_interference.onnx: answers NaN for UEs whose mean serving RSRP over the window
  is below -100 dBm, (5 dB, 0.2) otherwise: passes the canary (whose UEs are at -80 and
  -95 dBm), then answers garbage for cell-edge UEs while serving.

Run with the training venv: .cache/train-venv/bin/python make_garbage.py
"""
import numpy as np
import onnx
from onnx import TensorProto, helper

def graph(name, edge_only):
    x = helper.make_tensor_value_info("radio_window", TensorProto.FLOAT, [None, 5, 8])
    y = helper.make_tensor_value_info("interference", TensorProto.FLOAT, [None, 2])
    c = lambda n, v: helper.make_tensor(n, TensorProto.FLOAT, [len(v)], v)
    i = lambda n, v: helper.make_tensor(n, TensorProto.INT64, [len(v)], v)
    nodes = [
        helper.make_node("ReduceMean", ["radio_window", "ax1"], ["mean"], keepdims=0),  # [N,8]
        helper.make_node("Slice", ["mean", "s0", "s1", "ax_last"], ["rsrp"]),           # [N,1]
        helper.make_node("Less", ["rsrp", "edge"], ["is_edge"]),
        helper.make_node("Where", ["is_edge", "nan2", "fine2"], ["picked"]),            # [N,2]
    ]
    inits = [i("ax1", [1]), i("s0", [0]), i("s1", [1]), i("ax_last", [1]),
             c("edge", [-100.0 if edge_only else 1e9]),
             c("nan2", [float("nan"), float("nan")]), c("fine2", [5.0, 0.2])]
    nodes.append(helper.make_node("Identity", ["picked"], ["interference"]))
    g = helper.make_graph(nodes, name, [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    onnx.checker.check_model(m)
    return m

onnx.save(graph("nan", False), "nan_interference.onnx")
onnx.save(graph("edge_nan", True), "edge_nan_interference.onnx")
