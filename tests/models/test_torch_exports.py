#!/usr/bin/python3
"""infera against PyTorch on models exported here with torch.onnx.export (random weights, seed 0, eval mode).

usage: /usr/bin/python3 test_torch_exports.py INFERA_BIN [SHARED_DIR] [--only NAME[,NAME...]]

Models (spread over opsets 13-17 on purpose):
| name                 | opset | what |
| resnet50             | 13    | torchvision ResNet-50, 1x3x224x224 |
| mobilenet_v2         | 15    | torchvision MobileNetV2, 1x3x224x224 |
| squeezenet1_1        | 17    | torchvision SqueezeNet 1.1, 1x3x224x224 |
| bert_encoder         | 14    | BERT-shaped encoder with BERT-base layer sizes (d 768, 12 heads, FFN 3072, post-LayerNorm, GELU),
|                      |       | 2 layers, vocabulary 8192; inputs input_ids, attention_mask (last 16 positions padded),
|                      |       | token_type_ids, int64 [1,128]; outputs last_hidden_state and pooler_output. LayerNorm is
|                      |       | exported as ReduceMean/Sub/Pow/Sqrt/Div (opset < 17). Dynamic batch and sequence. |
| bert_tiny_opset17    | 17    | the same architecture, d 128, 2 heads, 2 layers, batch 2, sequence 32: LayerNormalization op |
Each output must equal PyTorch's to 1e-4 relative (metric in common.compare). Exported models, inputs and
PyTorch's outputs are cached in <build dir>/test-cache/torch-exports, keyed by a hash of this file's export code
and the torch version, so reruns skip the export. Needs only PyTorch/torchvision (not ../shared): exits 77
(skip) when they cannot be imported.
"""
import hashlib
import inspect
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: skips cleanly without numpy)
import numpy as np  # noqa: E402
from common import Timer, compare  # noqa: E402

TOL = 1e-4

try:
    import torch
    import torchvision
except ImportError as e:  # run with a Python that has no PyTorch: nothing to test
    torch = None
    TORCH_ERROR = e


if torch is not None:
    class BertSelfAttention(torch.nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.h, self.sqrt_dh = heads, math.sqrt(d // heads)
            self.q, self.k, self.v = torch.nn.Linear(d, d), torch.nn.Linear(d, d), torch.nn.Linear(d, d)
            self.out = torch.nn.Linear(d, d)

        def forward(self, x, mask):
            b, t, d = x.shape
            q, k, v = [z(x).reshape(b, t, self.h, d // self.h).transpose(1, 2) for z in (self.q, self.k, self.v)]
            s = q @ k.transpose(2, 3) / self.sqrt_dh + mask
            return self.out((s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d))

    class BertLayer(torch.nn.Module):
        def __init__(self, d, heads, ffn):
            super().__init__()
            self.attn = BertSelfAttention(d, heads)
            self.ln1, self.ln2 = torch.nn.LayerNorm(d, eps=1e-12), torch.nn.LayerNorm(d, eps=1e-12)
            self.ffn = torch.nn.Sequential(torch.nn.Linear(d, ffn), torch.nn.GELU(), torch.nn.Linear(ffn, d))

        def forward(self, x, mask):
            x = self.ln1(x + self.attn(x, mask))
            return self.ln2(x + self.ffn(x))

    class BertEncoder(torch.nn.Module):
        """BERT's shape: token + position + token-type embeddings, LayerNorm, post-norm layers, tanh pooler."""

        def __init__(self, vocab, d, layers, heads, ffn, max_len=512):
            super().__init__()
            self.tok, self.pos, self.typ = (torch.nn.Embedding(vocab, d), torch.nn.Embedding(max_len, d),
                                            torch.nn.Embedding(2, d))
            self.ln = torch.nn.LayerNorm(d, eps=1e-12)
            self.layers = torch.nn.ModuleList(BertLayer(d, heads, ffn) for _ in range(layers))
            self.pooler = torch.nn.Linear(d, d)

        def forward(self, input_ids, attention_mask, token_type_ids):
            pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
            x = self.ln(self.tok(input_ids) + self.pos(pos) + self.typ(token_type_ids))
            mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
            for layer in self.layers:
                x = layer(x, mask)
            return x, torch.tanh(self.pooler(x[:, 0]))


def bert_inputs(batch, seq, vocab, pad):
    ids = torch.randint(0, vocab, (batch, seq))
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[:, seq - pad:] = 0
    types = torch.zeros(batch, seq, dtype=torch.int64)
    types[:, seq // 2:] = 1
    return ids, mask, types


def build(name):
    """(model, example inputs tuple, input names, output names, dynamic axes, opset)."""
    if name == "bert_encoder":
        model = BertEncoder(8192, 768, 2, 12, 3072)
        x = bert_inputs(1, 128, 8192, 16)
    elif name == "bert_tiny_opset17":
        model = BertEncoder(1024, 128, 2, 2, 512)
        x = bert_inputs(2, 32, 1024, 5)
    else:
        model = getattr(torchvision.models, name)()
        x = (torch.randn(1, 3, 224, 224),)
        opset = {"resnet50": 13, "mobilenet_v2": 15, "squeezenet1_1": 17}[name]
        return model, x, ["input"], ["output"], {"input": {0: "batch"}, "output": {0: "batch"}}, opset
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes.update({"last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}})
    return model, x, names, ["last_hidden_state", "pooler_output"], axes, 17 if name.endswith("opset17") else 14


MODELS = ["resnet50", "mobilenet_v2", "squeezenet1_1", "bert_encoder", "bert_tiny_opset17"]


def export(env, name):
    """Exports `name` (cached): returns (onnx path, [(input name, array)], [PyTorch output arrays], opset)."""
    code = inspect.getsource(sys.modules[__name__])
    tag = hashlib.sha1((code + torch.__version__ + torchvision.__version__).encode()).hexdigest()[:10]
    folder = os.path.join(env.cache, "torch-exports")
    base = os.path.join(folder, f"{name}-{tag}")
    done = base + ".npz"
    if not os.path.isfile(done):
        os.makedirs(folder, exist_ok=True)
        for f in os.listdir(folder):  # exports made by an older version of this file
            if f.startswith(name + "-") and not f.startswith(f"{name}-{tag}"):
                os.remove(os.path.join(folder, f))
        torch.manual_seed(0)
        torch.set_num_threads(1)
        model, x, in_names, out_names, axes, opset = build(name)
        model.eval()
        with torch.no_grad():
            y = model(*x)
            y = y if isinstance(y, tuple) else (y,)
            torch.onnx.export(model, x, f"{base}.onnx", input_names=in_names, output_names=out_names,
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
        arrays = {f"in_{n}": t.numpy() for n, t in zip(in_names, x)}
        arrays.update({f"out_{i}": t.numpy() for i, t in enumerate(y)})
        arrays["opset"] = np.array(opset)
        np.savez(f"{base}.{os.getpid()}.tmp.npz", **arrays)
        os.replace(f"{base}.{os.getpid()}.tmp.npz", done)  # written last: marks the export complete
    with np.load(done) as z:
        inputs = [(k[3:], z[k]) for k in z.files if k.startswith("in_")]
        outputs = [z[f"out_{i}"] for i in range(sum(k.startswith("out_") for k in z.files))]
        opset = int(z["opset"])
    return base + ".onnx", inputs, outputs, opset


def check(env, table, name):
    """Exports `name`, runs it in infera and compares with PyTorch's outputs: one row."""
    te, tr = Timer(), Timer()
    with te:
        path, inputs, ref, opset = export(env, name)
    with tr:
        got = env.run_infera(path, inputs)
    ok = len(got) == len(ref)
    parts = []
    for g, r in zip(got, ref):
        o, rel, note = compare(g, r, TOL)
        ok &= o
        parts.append(f"rel {rel:.2e}" + (f" {note}" if note else ""))
    if len(got) != len(ref):
        parts.append(f"{len(got)} outputs, PyTorch {len(ref)}")
    table.add(name, opset, "ok" if ok else "FAIL", ", ".join(parts) + f" (limit {TOL:g})", te, tr, ok=ok)


def main():
    only = None
    if "--only" in sys.argv:
        k = sys.argv.index("--only")
        only = sys.argv[k + 1].split(",")
        del sys.argv[k:k + 2]
    env = common.Env(need_shared=False)
    if torch is None:
        common.skip(f"PyTorch not importable with {sys.executable}: {TORCH_ERROR}")
    table = common.Table("infera vs PyTorch on torch.onnx.export'ed models",
                         ("model", "opset", "result", "outputs", "export", "infera run"))
    total = Timer()
    with total:
        for name in only or MODELS:
            table.guarded(name, lambda: check(env, table, name))
    return table.finish(total)


if __name__ == "__main__":
    sys.exit(main())
