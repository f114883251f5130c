#!/usr/bin/python3
"""Makes the files tests/unit/dataset_test.cpp reads; run here with /usr/bin/python3 (numpy, PIL 9.4).

- pixels.png: a 5x4 RGB image; dataset_test.cpp holds PIL's Image.resize(BILINEAR) of it to 3x2, 8x7 and 2x4.
- rgb.jpg, gray.jpg, cmyk.jpg: small JPEGs of each colour space, with <name>.npy = PIL's convert("RGB") of them.
- stored.npz (np.savez), deflate.npz (np.savez_compressed): members images float32 [2,3,4], tokens int64 [2,2].
- zip64.npz: one deflated member written with zipfile's force_zip64 (a zip64 extra field in the local header).
"""
import zipfile

import numpy as np
from PIL import Image

img = np.array([[(x * 37 + y * 11) % 256 for x in range(5)] for y in range(4)], dtype=np.uint8)
rgb = np.stack([img, 255 - img, (img * 3) % 256], -1).astype(np.uint8)
Image.fromarray(rgb).save("pixels.png")
for size in [(3, 2), (8, 7), (2, 4)]:
    print(size, np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR)).reshape(-1).tolist())

yy, xx = np.mgrid[0:10, 0:13]
col = np.stack([(xx * 19) % 256, (yy * 23) % 256, ((xx + yy) * 7) % 256], -1).astype(np.uint8)
Image.fromarray(col).save("rgb.jpg", quality=90)
Image.fromarray(col[..., 0]).save("gray.jpg", quality=90)
Image.fromarray(col).convert("CMYK").save("cmyk.jpg", quality=90)
for f in ["rgb.jpg", "gray.jpg", "cmyk.jpg"]:
    np.save(f + ".npy", np.asarray(Image.open(f).convert("RGB")))

a = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) / 7
b = np.array([[1, 2], [3, 4]], dtype=np.int64)
np.savez("stored.npz", images=a, tokens=b)
np.savez_compressed("deflate.npz", images=a, tokens=b)
with zipfile.ZipFile("zip64.npz", "w", compression=zipfile.ZIP_DEFLATED) as z:
    with z.open("images.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, a)
