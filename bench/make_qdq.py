#!/usr/bin/python3
"""Writes an int8 QDQ copy of an fp32 CNN the way ONNX Runtime's static quantizer places the pairs.

usage: /usr/bin/python3 bench/make_qdq.py INFERA_BIN MODEL.onnx CALIB.npy OUT.onnx

- activations: uint8, asymmetric, min-max ranges from `infera calibrate` on CALIB.npy; a QuantizeLinear ->
  DequantizeLinear pair on the graph input and on every output of Conv, Add, Relu, Clip, MaxPool, GlobalAveragePool
  and Flatten, except a Conv or Add output that only feeds a Relu or Clip (the pair goes after the activation, whose
  effect the uint8 saturation then has);
- Conv and Gemm weights: int8, symmetric, one scale per output channel (DequantizeLinear axis 0); Conv biases int32
  at scale input_scale * weight_scale (zero point 0); Gemm's bias stays float.
So every residual Add reads two dequantized values and its result is quantized: the pattern an integer engine runs
as QLinearConv / QLinearAdd (ONNX Runtime) or FusedQLinearConv (infera). The benchmark uses it for speed; accuracy
is what `infera quantize` and `infera eval` are for.
"""
import json
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

QUANTIZED_OUTPUTS = {"Conv", "Add", "Relu", "Clip", "MaxPool", "GlobalAveragePool", "Flatten"}
ACTIVATIONS = {"Relu", "Clip"}


def activation_ranges(infera, model, calib):
    out = subprocess.run([infera, "calibrate", model, "--calib", calib, "--method", "minmax", "--json"],
                         check=True, capture_output=True, text=True).stdout
    return {t["name"]: (min(t["min"], 0.0), max(t["max"], 0.0)) for t in json.loads(out)["tensors"]}


def uint8_params(lo, hi):
    scale = max(hi - lo, 1e-8) / 255.0
    return np.float32(scale), np.uint8(np.clip(round(-lo / scale), 0, 255))


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    infera, src, calib, dst = sys.argv[1:]
    ranges = activation_ranges(infera, src, calib)
    model = onnx.load(src)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    new_inits, act_scale = [], {}
    nodes = []

    def qdq(value):
        """Q -> DQ of an activation; returns the dequantized name (uses are renamed afterwards)."""
        scale, zp = uint8_params(*ranges[value])
        act_scale[value] = float(scale)
        new_inits.extend([numpy_helper.from_array(np.array(scale), value + "_scale"),
                          numpy_helper.from_array(np.array(zp), value + "_zero_point")])
        nodes.append(helper.make_node("QuantizeLinear", [value, value + "_scale", value + "_zero_point"],
                                      [value + "_quantized"]))
        nodes.append(helper.make_node("DequantizeLinear", [value + "_quantized", value + "_scale",
                                                           value + "_zero_point"], [value + "_dequantized"]))
        return value + "_dequantized"

    def weights(name, axis_out=0):
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        flat = np.moveaxis(w, axis_out, 0).reshape(w.shape[axis_out], -1)
        scale = np.maximum(np.abs(flat).max(axis=1), 1e-8) / 127.0
        shape = [1] * w.ndim
        shape[axis_out] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        new_inits.extend([numpy_helper.from_array(q, name + "_quantized"),
                          numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
                          numpy_helper.from_array(np.zeros(len(scale), np.int8), name + "_zero_point")])
        nodes.append(helper.make_node("DequantizeLinear", [name + "_quantized", name + "_scale", name + "_zero_point"],
                                      [name + "_dequantized"], axis=axis_out))
        return name + "_dequantized", scale

    renamed = {}
    quantize_after = set(i.name for i in g.input if i.name not in inits)
    for n in g.node:
        if n.op_type in QUANTIZED_OUTPUTS:
            out = n.output[0]
            readers = consumers.get(out, [])
            feeds_activation = n.op_type in ("Conv", "Add") and readers and all(
                r.op_type in ACTIVATIONS for r in readers)
            if not feeds_activation and out in ranges:
                quantize_after.add(out)
    for name in [i.name for i in g.input if i.name in quantize_after]:
        renamed[name] = qdq(name)
    for n in g.node:
        n.input[:] = [renamed.get(i, i) for i in n.input]
        if n.op_type in ("Conv", "Gemm") and n.input[1] in inits:
            transposed = n.op_type == "Gemm" and any(a.name == "transB" and a.i for a in n.attribute)
            n.input[1], scale = weights(n.input[1], 0 if n.op_type == "Conv" or transposed else 1)
            if n.op_type == "Conv" and len(n.input) > 2 and n.input[2] in inits:
                x = n.input[0][:-len("_dequantized")]
                b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
                bias_scale = (act_scale[x] * scale).astype(np.float32)
                q = np.round(b / bias_scale).astype(np.int32)
                name = n.input[2]
                new_inits.extend([numpy_helper.from_array(q, name + "_quantized"),
                                  numpy_helper.from_array(bias_scale, name + "_scale"),
                                  numpy_helper.from_array(np.zeros(len(q), np.int32), name + "_zero_point")])
                nodes.append(helper.make_node("DequantizeLinear", [name + "_quantized", name + "_scale",
                                                                   name + "_zero_point"], [name + "_dequantized"],
                                              axis=0))
                n.input[2] = name + "_dequantized"
        nodes.append(n)
        for out in n.output:
            if out in quantize_after:
                renamed[out] = qdq(out)
    for o in g.output:  # graph outputs keep their names: read the float value
        renamed.pop(o.name, None)
    for n in nodes:
        if n.op_type != "QuantizeLinear":
            n.input[:] = [renamed.get(i, i) for i in n.input]
    used = {i for n in nodes for i in n.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    if model.opset_import[0].version < 13:
        model.opset_import[0].version = 13  # per-channel DequantizeLinear
    onnx.checker.check_model(model)
    onnx.save(model, dst)


if __name__ == "__main__":
    main()
