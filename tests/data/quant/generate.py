#!/usr/bin/python3
"""Generates the reference data of tests/unit/quant_formats_test.cpp: one-node-ish ONNX models (opset 21) around
Cast, QuantizeLinear and DequantizeLinear with 8-bit float and 4-bit integer types, their inputs, and the outputs of
ONNX Runtime on them (the expected values).

  /usr/bin/python3 tests/data/quant/generate.py [--ort-run ../shared/peers/ort-run.js]

Needs python3-onnx (1.12 is enough: the new element types are written by number) and ONNX Runtime for node
(../shared/peers/setup-ort.sh). Models take float32 inputs and give float32 or int8 outputs, so that ort-run.js can
read and write them as .npy; 8-bit float and 4-bit values cross the model boundary through Cast or DequantizeLinear.
"""
import argparse, os, struct, subprocess, sys, tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FLOAT8 = {  # ONNX type: (name, exponent bits, mantissa bits, bias, unsigned zero, infinities)
    17: ("e4m3fn", 4, 3, 7, False, False),
    18: ("e4m3fnuz", 4, 3, 8, True, False),
    19: ("e5m2", 5, 2, 15, False, True),
    20: ("e5m2fnuz", 5, 2, 16, True, False),
}
INT4, UINT4 = 22, 21


def float8_positive_values(e_bits, m_bits, bias, uz, inf):
    """Every finite non-negative value of the format, ascending (from the OCP formula)."""
    values = []
    for b in range(128):
        e, m = b >> m_bits, b & ((1 << m_bits) - 1)
        if uz and b == 0x80:
            continue
        if not uz and not inf and b == 0x7F:  # E4M3FN NaN
            continue
        if inf and e == (1 << e_bits) - 1:  # E5M2 inf / NaN
            continue
        if e == 0:
            values.append(m * 2.0 ** (1 - bias - m_bits))
        else:
            values.append((1 + m / 2.0 ** m_bits) * 2.0 ** (e - bias))
    return values


def input_grid():
    """Zeros, specials, every midpoint between adjacent values of each 8-bit format and the floats either side of
    it, the same past the largest value, a few values far out of range and below the smallest subnormal, then random
    values over the whole range; all of it with both signs."""
    xs = [0.0, np.inf, 1e30, 3.4e38, 1e-30, 1e-45, 0.1, 1.0 / 3]
    for _, e, m, bias, uz, inf in FLOAT8.values():
        v = float8_positive_values(e, m, bias, uz, inf)
        top = v[-1] + (v[-1] - v[-2])
        for a, b in zip(v, v[1:] + [top]):
            mid = np.float32((a + b) / 2)
            xs += [mid, np.nextafter(mid, np.float32(np.inf)), np.nextafter(mid, np.float32(-np.inf)), b]
    rng = np.random.default_rng(0)
    xs += list(np.exp(rng.uniform(np.log(1e-7), np.log(1e5), 400)))
    x = np.array(xs, dtype=np.float32)
    x = np.unique(np.concatenate([x, -x]))
    return np.concatenate([x, np.array([np.nan, -np.nan, -0.0], dtype=np.float32)])


def int4_grid():
    """6 x 10 values around the rounding ties and the saturation points of the scales used with it."""
    rng = np.random.default_rng(1)
    x = rng.integers(-40, 41, size=(6, 10)).astype(np.float32) * 0.25  # many exact halves of 0.5-multiples
    x[0, :] = [-9, -8.5, -8, -7.5, 0.5, 1.5, 2.5, 7.5, 8, 100]
    x[1, :] = [-0.5, -1.5, -2.5, 15.5, 16, 14.5, np.nan, np.inf, -np.inf, 0]
    return x


def tensor(name, data_type, dims, raw):
    t = TensorProto()
    t.name, t.data_type, t.raw_data = name, data_type, bytes(raw)
    t.dims.extend(dims)
    return t


def pack_int4(values):
    nib = [v & 0x0F for v in values] + ([0] if len(values) % 2 else [])
    return bytes(nib[i] | nib[i + 1] << 4 for i in range(0, len(nib), 2))


def model(nodes, inputs, outputs, initializers):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializers)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)], producer_name="infera-quant-test")
    m.ir_version = 10
    return m


def value(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def models(n):
    """name -> (model, input file or None)."""
    out = {}
    for t, (name, *_spec) in FLOAT8.items():
        zero = tensor("zero", t, [], [0])
        scale = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "scale")
        for sat in (0, 1):
            nodes = [
                helper.make_node("Cast", ["x"], ["c8"], to=t, saturate=sat),
                helper.make_node("Cast", ["c8"], ["cast"], to=TensorProto.FLOAT),
                helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["q8"], saturate=sat),
                helper.make_node("Cast", ["q8"], ["quantize"], to=TensorProto.FLOAT),
            ]
            out[f"f8_{name}_sat{sat}"] = (
                model(nodes, [value("x", TensorProto.FLOAT, [n])],
                      [value("cast", TensorProto.FLOAT, [n]), value("quantize", TensorProto.FLOAT, [n])],
                      [zero, scale]), "x.npy")
        every = tensor("every", t, [256], range(256))
        nodes = [
            helper.make_node("DequantizeLinear", ["every", "scale"], ["dequantize"]),
            helper.make_node("Cast", ["every"], ["cast"], to=TensorProto.FLOAT),
        ]
        out[f"f8_{name}_decode"] = (
            model(nodes, [], [value("dequantize", TensorProto.FLOAT, [256]), value("cast", TensorProto.FLOAT, [256])],
                  [every, scale]), None)
    for t, name, lo, hi in ((INT4, "int4", -8, 7), (UINT4, "uint4", 0, 15)):
        # Blocked along axis 1 (10 columns, blocks of 4: the last block is partial), asymmetric.
        rng = np.random.default_rng(t)
        scale = numpy_helper.from_array(rng.choice([0.5, 1.0, 0.25, 2.0], size=(6, 3)).astype(np.float32), "scale")
        zps = [int(v) for v in rng.integers(lo, hi + 1, size=18)]
        zero = tensor("zero", t, [6, 3], pack_int4(zps))
        nodes = [
            helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["q"], axis=1, block_size=4),
            helper.make_node("Cast", ["q"], ["quantize"], to=TensorProto.INT8),
            helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dequantize"], axis=1, block_size=4),
            helper.make_node("Cast", ["x"], ["c4"], to=t),
            helper.make_node("Cast", ["c4"], ["cast"], to=TensorProto.INT8),
        ]
        out[f"{name}_blocked"] = (
            model(nodes, [value("x", TensorProto.FLOAT, [6, 10])],
                  [value("quantize", TensorProto.INT8, [6, 10]), value("dequantize", TensorProto.FLOAT, [6, 10]),
                   value("cast", TensorProto.INT8, [6, 10])], [scale, zero]), "x_int4.npy")
        # Every value, an odd count (the last byte half used), per-tensor, from packed raw data.
        every = list(range(lo, hi + 1)) + [lo]
        nodes = [helper.make_node("DequantizeLinear", ["every", "s", "z"], ["dequantize"])]
        out[f"{name}_decode"] = (
            model(nodes, [], [value("dequantize", TensorProto.FLOAT, [len(every)])],
                  [tensor("every", t, [len(every)], pack_int4(every)),
                   numpy_helper.from_array(np.array(0.5, dtype=np.float32), "s"),
                   tensor("z", t, [], pack_int4([lo + 3]))]), None)
    # Blocked int8 along axis 0 (6 rows, blocks of 4), symmetric: no zero point, output_dtype names the type.
    scale = numpy_helper.from_array(np.array([[0.5] * 10, [0.03] * 10], dtype=np.float32), "scale")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "scale"], ["q"], axis=0, block_size=4, output_dtype=TensorProto.INT8),
        helper.make_node("DequantizeLinear", ["q", "scale"], ["dequantize"], axis=0, block_size=4),
        helper.make_node("Identity", ["q"], ["quantize"]),
    ]
    out["int8_blocked"] = (
        model(nodes, [value("x", TensorProto.FLOAT, [6, 10])],
              [value("quantize", TensorProto.INT8, [6, 10]), value("dequantize", TensorProto.FLOAT, [6, 10])],
              [scale]), "x_int4.npy")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ort-run", default=os.path.join(HERE, "../../../../shared/peers/ort-run.js"))
    args = ap.parse_args()
    x = input_grid()
    np.save(os.path.join(HERE, "x.npy"), x)
    np.save(os.path.join(HERE, "x_int4.npy"), int4_grid())
    for name, (m, inp) in models(len(x)).items():
        path = os.path.join(HERE, name + ".onnx")
        onnx.save(m, path)
        with tempfile.TemporaryDirectory() as tmp:
            cmd = ["node", args.ort_run, path, tmp] + ([os.path.join(HERE, inp)] if inp else [])
            subprocess.run(cmd, check=True)
            for i, out in enumerate(m.graph.output):
                np.save(os.path.join(HERE, f"{name}.{out.name}.npy"), np.load(os.path.join(tmp, f"output_{i}.npy")))
        print(name)


if __name__ == "__main__":
    main()
