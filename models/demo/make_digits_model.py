"""Trains the infera demo model: a small CNN on scikit-learn's 8x8 digits, exported to ONNX.

usage: /usr/bin/python3 models/demo/make_digits_model.py [OUT_DIR]   (default: this script's folder)

Writes OUT_DIR/digits_cnn.onnx (opset 13; input "image" float32 [batch,1,8,8] with pixel values
value/16 in 0..1; output "logits" float32 [batch,10]), OUT_DIR/digits_samples.npy (16 held-out test
images, float32 [16,1,8,8]) and OUT_DIR/digits_labels.npy (their labels, int64 [16]), and prints the
accuracy on the held-out 20 % of the data set. Deterministic: fixed seeds, one thread.
"""
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
EPOCHS = 40
BATCH = 32


class DigitsCNN(torch.nn.Module):
    """Conv-Relu-MaxPool twice, then two fully connected layers: only Conv, Relu, MaxPool, Flatten, Gemm."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),   # 16x4x4
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),  # 32x2x2
        )
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(32 * 2 * 2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # [1797,1,8,8], 0..1
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.2, random_state=SEED, stratify=labels)
    x_train, y_train = torch.from_numpy(x_train), torch.from_numpy(y_train)
    x_test_t, y_test_t = torch.from_numpy(x_test), torch.from_numpy(y_test)

    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(perm), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
    model.eval()
    train_acc, test_acc = accuracy(model, x_train, y_train), accuracy(model, x_test_t, y_test_t)

    onnx_path = os.path.join(out, "digits_cnn.onnx")
    torch.onnx.export(model, x_test_t[:1], onnx_path, opset_version=13, do_constant_folding=True,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    # 16 held-out images, the first ones of the test split (which is stratified and shuffled).
    np.save(os.path.join(out, "digits_samples.npy"), np.ascontiguousarray(x_test[:16]))
    np.save(os.path.join(out, "digits_labels.npy"), y_test[:16].copy())

    print(f"train images {len(x_train)}, held-out test images {len(x_test)}")
    print(f"train accuracy {train_acc * 100:.2f} %")
    print(f"held-out accuracy {test_acc * 100:.2f} % ({int(round(test_acc * len(x_test)))}/{len(x_test)})")
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), digits_samples.npy, digits_labels.npy")


if __name__ == "__main__":
    main()
