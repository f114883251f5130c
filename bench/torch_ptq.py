#!/usr/bin/python3
"""infera's int8 quantizer next to PyTorch 1.13's post-training quantization, on the same trained networks, the same
calibration images and the same evaluation images.

usage: /usr/bin/python3 bench/torch_ptq.py [--infera build/infera] [--shared ../shared]
           [--models resnet8-cifar10,mobilenetv2-cifar10,mobilenetv2-12] [--methods minmax,entropy,mse,percentile]
           [--torch-engines onednn] [--threads 1] [--torch-threads 2] [--cache build/bench-cache/quant]
           [--out bench/results/torch_ptq.json]

No pretrained torchvision weights can be downloaded here, so the networks are the trained fp32 CNNs of
../shared/models, rebuilt as PyTorch modules with the same weights (OnnxModule below). Their PyTorch logits are
checked against ONNX Runtime's on every evaluation image (`rel`: max|torch - ORT| / max|ORT|).
Per network, one table row per engine and variant:
- fp32 in ONNX Runtime, infera and PyTorch (the rebuilt module);
- PyTorch PTQ int8: FX graph-mode static quantization (`prepare_fx` with `get_default_qconfig_mapping(ENGINE)`:
  HistogramObserver activations, per-channel symmetric int8 weights for onednn; calibration on the calibration
  images; `convert_fx`), run by PyTorch's quantized kernels with `torch.backends.quantized.engine = ENGINE`;
- the released int8 model and `infera quantize --precision int8 --per-channel --method M` for each method, each in
  infera and in ONNX Runtime (quant_accuracy.py: calibration sets, held-out images, how each number is measured).
Agreement is top-1 agreement with the fp32 model in the same engine.
"""
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quant_accuracy as qa  # noqa: E402

# ---- the ONNX CNN as a PyTorch module ----
# Supported: Conv, Clip, Add, MatMul by a constant, ReduceMean, (Global)AveragePool, Squeeze, Identity and the
# Shape->Gather->Unsqueeze->Concat->Reshape chain that flattens the pooled features (what the networks above use);
# anything else raises ValueError naming the node. The module is traceable by torch.fx (the forward loop runs over a
# fixed list of steps), which FX graph-mode quantization needs. Clip(0, hi) is written as ReLU then clamp(0, hi):
# the same function, in the form PyTorch's quantizer fuses into Conv+ReLU (it has no Conv+Hardtanh fusion), so that
# its observer sees the rectified output.

# Ops that only compute the flatten shape: their outputs are shapes, not tensors, and feed Reshape.
SHAPE_OPS = ("Shape", "Gather", "Unsqueeze", "Concat")


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _constants(graph):
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _conv(node, consts):
    a = _attrs(node)
    w = consts[node.input[1]]
    pads = a.get("pads", [0, 0, 0, 0])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or pads[:2] != pads[2:] or w.ndim != 4:
        raise ValueError(f"Conv {node.name}: only 2-D convolutions with explicit symmetric pads are supported")
    groups = a.get("group", 1)
    conv = torch.nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=tuple(a.get("strides", [1, 1])),
                           padding=tuple(pads[:2]), dilation=tuple(a.get("dilations", [1, 1])), groups=groups,
                           bias=len(node.input) > 2 and node.input[2] != "")
    conv.weight.data = torch.from_numpy(w.copy())
    if conv.bias is not None:
        conv.bias.data = torch.from_numpy(consts[node.input[2]].copy())
    return conv


def _linear(node, consts):
    w = consts[node.input[1]]
    if w.ndim != 2:
        raise ValueError(f"MatMul {node.name}: only a constant 2-D right operand is supported")
    linear = torch.nn.Linear(w.shape[0], w.shape[1], bias=False)
    linear.weight.data = torch.from_numpy(w.T.copy())
    return linear


def _clip_bounds(node, consts):
    def bound(i):
        return float(consts[node.input[i]]) if len(node.input) > i and node.input[i] else None
    return bound(1), bound(2)


class OnnxModule(torch.nn.Module):
    """The graph's nodes in order; each step is (function or submodule name, input names, output name)."""

    def __init__(self, path):
        super().__init__()
        model = onnx.load(path)
        graph = model.graph
        consts = _constants(graph)
        self.input_name = next(i.name for i in graph.input if i.name not in consts)
        self.output_name = graph.output[0].name
        self.steps = []
        shape_values = set()
        for index, node in enumerate(graph.node):
            op, name = node.op_type, f"n{index}_{node.op_type.lower()}"
            args = [i for i in node.input if i and i not in consts]
            out = node.output[0]
            a = _attrs(node)
            if op == "Constant":
                continue
            if op in SHAPE_OPS:
                shape_values.add(out)
            elif op == "Conv":
                self.add_module(name, _conv(node, consts))
                self._step(name, args[:1], out)
            elif op == "MatMul":
                self.add_module(name, _linear(node, consts))
                self._step(name, args[:1], out)
            elif op == "Clip":
                lo, hi = _clip_bounds(node, consts)
                if lo == 0.0:
                    self.add_module(name, torch.nn.ReLU())
                    self._step(name, args, out if hi is None else out + "#relu")
                    if hi is not None:
                        self._step(("clamp_max", hi), [out + "#relu"], out)
                else:
                    self._step(("clamp", lo, hi), args, out)
            elif op == "Add":
                if len(args) == 2:
                    self._step(("add",), args, out)
                else:  # an activation plus a constant (the classifier's bias)
                    const = next(i for i in node.input if i in consts)
                    self.register_buffer(name, torch.from_numpy(consts[const].copy()))
                    self._step(("add_buffer", name), args, out)
            elif op == "ReduceMean":
                self._step(("mean", tuple(a["axes"]), bool(a.get("keepdims", 1))), args, out)
            elif op == "GlobalAveragePool":
                self.add_module(name, torch.nn.AdaptiveAvgPool2d(1))
                self._step(name, args, out)
            elif op == "AveragePool":
                pads = a.get("pads", [0, 0, 0, 0])
                self.add_module(name, torch.nn.AvgPool2d(tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1])),
                                                         tuple(pads[:2]), bool(a.get("ceil_mode", 0)),
                                                         bool(a.get("count_include_pad", 0))))
                self._step(name, args, out)
            elif op == "Squeeze" or (op == "Reshape" and node.input[1] in shape_values):
                # [N, C, 1, 1] -> [N, C]: the flatten before the classifier (the ONNX files squeeze or reshape
                # with their fixed batch; the module keeps the batch dimension for any batch size)
                self._step(("flatten",), args[:1], out)
            elif op == "Identity":
                self._step(("identity",), args, out)
            else:
                raise ValueError(f"{op} node {node.name or index}: not supported by onnx_to_torch")

    def _step(self, fn, inputs, output):
        self.steps.append((fn, tuple(inputs), output))

    def forward(self, x):
        values = {self.input_name: x}
        for fn, inputs, output in self.steps:
            args = [values[i] for i in inputs]
            if isinstance(fn, str):
                values[output] = getattr(self, fn)(*args)
            elif fn[0] == "clamp":
                values[output] = torch.clamp(args[0], fn[1], fn[2])
            elif fn[0] == "clamp_max":
                values[output] = torch.clamp(args[0], 0.0, fn[1])  # quantized clamp needs both bounds
            elif fn[0] == "add":
                values[output] = args[0] + args[1]
            elif fn[0] == "add_buffer":
                values[output] = args[0] + getattr(self, fn[1])
            elif fn[0] == "mean":
                values[output] = torch.mean(args[0], dim=fn[1], keepdim=fn[2])
            elif fn[0] == "flatten":
                values[output] = torch.flatten(args[0], 1)
            else:
                values[output] = args[0]
        return values[self.output_name]


# ---- PyTorch: fp32 and post-training quantization ----
def torch_logits(module, x, batch=100):
    """The module's outputs on the images x (numpy [N, C, H, W]) as numpy [N, classes]."""
    outs = []
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            outs.append(module(torch.from_numpy(np.array(x[i:i + batch]))).numpy().reshape(min(batch, len(x) - i), -1))
    return np.concatenate(outs)


def torch_ptq(module, calib, engine):
    """PyTorch 1.13 FX graph-mode static post-training quantization with the engine's default recipe."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = engine
    prepared = prepare_fx(module, get_default_qconfig_mapping(engine),
                          example_inputs=(torch.from_numpy(np.array(calib[:1])),))
    torch_logits(prepared, calib)  # the observers see every calibration image
    return convert_fx(prepared)


def measure_torch(network, shared, data, engines, ort_fp32_logits, log=print):
    fp32_name = qa.NETWORKS[network][0]
    module = OnnxModule(os.path.join(shared, "models", fp32_name + ".onnx")).eval()
    fp32 = torch_logits(module, data.x)
    fp32_pred = fp32.argmax(1)
    rows = [dict(model=network, variant="fp32", engine="pytorch", **qa.scores(fp32_pred, data, fp32_pred),
                 rel_vs_ort=qa.common.rel_error(fp32, ort_fp32_logits),
                 agree_ort=float((fp32_pred == ort_fp32_logits.argmax(1)).mean()))]
    log("  " + qa.format_row(rows[-1]) + f"   (vs ORT fp32: rel {rows[-1]['rel_vs_ort']:.1e}, "
        f"agreement {rows[-1]['agree_ort']:.2%})")
    for engine in engines:
        t0 = time.perf_counter()
        quantized = torch_ptq(module, data.x[data.calib], engine)
        calib_s = time.perf_counter() - t0
        pred = torch_logits(quantized, data.x).argmax(1)
        rows.append(dict(model=network, variant=f"PyTorch PTQ int8 ({engine})", engine="pytorch",
                         **qa.scores(pred, data, fp32_pred), calibration_s=round(calib_s, 1)))
        log("  " + qa.format_row(rows[-1]))
    return rows


def main():
    warnings.filterwarnings("ignore")  # torch.ao's prepare_fx/convert_fx deprecation notes
    args = qa.parse_args("infera int8 next to PyTorch 1.13 post-training quantization",
                         "resnet8-cifar10,mobilenetv2-cifar10,mobilenetv2-12",
                         ",".join(qa.METHODS), os.path.join(qa.REPO, "bench", "results", "torch_ptq.json"))
    engines = [e for e in args.torch_engines.split(",") if e]
    for e in engines:
        if e not in torch.backends.quantized.supported_engines:
            sys.exit(f"PyTorch quantized engine {e} not in {torch.backends.quantized.supported_engines}")
    torch.set_num_threads(args.torch_threads)
    h = qa.Harness(args.infera, args.shared, args.cache, args.threads)
    result = qa.header(args, h)
    result.update(pytorch=torch.__version__, torch_engines=engines, torch_threads=args.torch_threads,
                  torch_recipe="prepare_fx(get_default_qconfig_mapping(engine)), calibrate, convert_fx", rows=[])
    for network in args.models:
        print(f"{network}:")
        data, rows = qa.measure_network(h, network, args.methods)
        ort_fp32 = h.ort_logits(h.env.model(qa.NETWORKS[network][0]), data.x)
        rows[2:2] = measure_torch(network, args.shared, data, engines, ort_fp32)
        result["rows"] += rows
    print()
    qa.print_table(result["rows"])
    qa.write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
