"""The benchmark models: how each is built in PyTorch, its inputs, and where its ONNX file comes from.

Imported by prepare_models.py (export) and torch_bench.py (the same module, rebuilt with the same seed), so that
every engine runs the same network on the same input.
"""
import math
import os

import numpy as np

SEED = 0
OPSET = 14
SEQUENCE = 128
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_MODELS = os.path.join(REPO, "..", "shared", "models")

# name -> what it is; torchvision ones are built by their torchvision name.
TORCHVISION = ("resnet50", "mobilenet_v2", "squeezenet1_1")
TRANSFORMERS = ("bert_base",)
# Models taken as files (no nn.Module, so PyTorch does not run them): name -> (path, input name).
FILE_MODELS = {"mobilenetv2-12": (os.path.join(SHARED_MODELS, "mobilenetv2-12-fp32.onnx"), "input")}
# int8 QDQ copies of exported models (name -> the fp32 model), written by make_qdq.py as ONNX Runtime's quantizer
# places the pairs (per-channel int8 weights, uint8 activations calibrated min-max on the benchmark input).
QUANTIZED = {"resnet50_int8": "resnet50", "mobilenet_v2_int8": "mobilenet_v2"}
# Copies written by `infera quantize` (name -> (the fp32 model, its flags)):
# - int8 as infera's own quantizer writes it (per-channel weights, MSE calibration on the benchmark input): the
#   residual stream stays float, so a block's last convolution has a float result;
# - bf16: Casts at the edges, bf16 inside, opset 22 (ONNX Runtime 1.30 has no bf16 Conv on the CPU, so only infera
#   runs them).
INFERA_INT8 = ("--precision", "int8", "--per-channel", "--method", "mse")
INFERA_QUANTIZED = {"resnet50_int8_infera": ("resnet50", INFERA_INT8),
                    "mobilenet_v2_int8_infera": ("mobilenet_v2", INFERA_INT8),
                    "mobilenetv2-12_int8_infera": ("mobilenetv2-12", INFERA_INT8),
                    "resnet50_bf16": ("resnet50", ("--precision", "bf16")),
                    "mobilenet_v2_bf16": ("mobilenet_v2", ("--precision", "bf16"))}
BF16 = tuple(n for n, (_, flags) in INFERA_QUANTIZED.items() if "bf16" in flags)
# every lower-precision copy -> its fp32 model
LOWER_PRECISION = {**QUANTIZED, **{n: base for n, (base, _) in INFERA_QUANTIZED.items()}}
ALL = TORCHVISION + TRANSFORMERS + tuple(FILE_MODELS) + tuple(LOWER_PRECISION)


def _torch():
    import torch  # imported late: compare.py reads this file without needing torch
    return torch


def _bert_classes():
    torch = _torch()
    nn = torch.nn

    class SelfAttention(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)

        def forward(self, x, mask_bias):
            b, t, d = x.shape
            q, k, v = self.qkv(x).split(d, dim=2)
            q, k, v = [z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v)]
            scores = q @ k.transpose(2, 3) / math.sqrt(d // self.heads) + mask_bias
            return self.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d))

    class Layer(nn.Module):  # post-norm, as in BERT
        def __init__(self, d, heads, ffn):
            super().__init__()
            self.attn = SelfAttention(d, heads)
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.ffn = nn.Sequential(nn.Linear(d, ffn), nn.GELU(), nn.Linear(ffn, d))

        def forward(self, x, mask_bias):
            x = self.ln1(x + self.attn(x, mask_bias))
            return self.ln2(x + self.ffn(x))

    # torch 1.13 cannot export nn.TransformerEncoder's fused fast path, hence the layers written out.
    class BertEncoder(nn.Module):
        def __init__(self, vocab=30522, d=768, layers=12, heads=12, ffn=3072, max_len=512):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
            self.ln = nn.LayerNorm(d)
            self.layers = nn.ModuleList(Layer(d, heads, ffn) for _ in range(layers))

        def forward(self, input_ids, attention_mask):
            positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
            x = self.ln(self.tok(input_ids) + self.pos(positions))
            # Masked keys get a large negative score: [B, 1, 1, T] broadcast over heads and queries.
            mask_bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
            for layer in self.layers:
                x = layer(x, mask_bias)
            return x

    return BertEncoder


def build_module(name):
    """The nn.Module for `name`, weights random from SEED, in eval mode."""
    torch = _torch()
    torch.manual_seed(SEED)
    if name in TORCHVISION:
        import torchvision
        module = getattr(torchvision.models, name)()
    elif name == "bert_base":
        module = _bert_classes()()
    else:
        raise ValueError(f"{name} has no PyTorch module")
    return module.eval()


def make_inputs(name):
    """Named inputs as numpy arrays (ordered as the model takes them), the same for every engine."""
    name = LOWER_PRECISION.get(name, name)
    rng = np.random.default_rng(SEED)
    if name in TRANSFORMERS:
        return {"input_ids": rng.integers(0, 30522, size=(1, SEQUENCE), dtype=np.int64),
                "attention_mask": np.ones((1, SEQUENCE), dtype=np.int64)}
    input_name = FILE_MODELS[name][1] if name in FILE_MODELS else "input"
    return {input_name: rng.standard_normal((1, 3, 224, 224), dtype=np.float32)}


def has_module(name):
    return name not in FILE_MODELS and name not in LOWER_PRECISION
