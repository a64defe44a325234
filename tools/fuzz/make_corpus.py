#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: tools/fuzz/corpus/<parser>/, small valid files.

Run from anywhere (`python3 tools/fuzz/make_corpus.py`); it rewrites the seeds it makes and leaves other
files in the corpus folders alone (the inputs that fuzzing found, kept as regression seeds). Standard
library only. Each seed is a few hundred bytes at most: libFuzzer mutates small inputs fastest, and the
smoke test in `make test` replays every seed with its mutations.
"""
import base64
import gzip
import json
import os
import struct
import zlib

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(parser, name, data):
    folder = os.path.join(CORPUS, parser)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def fixed_gzip(data):
    """gzip with a zero timestamp, so the seeds are the same bytes on every run."""
    return gzip.compress(data, mtime=0)


# ---- safetensors: 8-byte little-endian header length, JSON header padded with spaces to 8, data ----

DTYPES = {  # name: (struct format of one element, element size)
    "F64": ("d", 8), "F32": ("f", 4), "F16": ("e", 2), "BF16": (None, 2),
    "I64": ("q", 8), "I32": ("i", 4), "U8": ("B", 1), "BOOL": ("?", 1),
}


def element_bytes(dtype, values):
    fmt, size = DTYPES[dtype]
    if dtype == "BF16":  # the top half of an f32
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return struct.pack("<" + fmt * len(values), *values)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, values)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in tensors:
        payload = element_bytes(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    write("safetensors", "f32_matrix.safetensors",
          safetensors([("weight", "F32", [2, 3], [0.5, -1.0, 2.0, 3.25, 0.0, -0.125])]))
    write("safetensors", "every_dtype.safetensors", safetensors([
        ("steps", "I64", [2], [1, -7]),
        ("running_var", "F64", [2], [1.0, 0.25]),
        ("layer.weight", "F32", [1, 2], [1.5, -2.0]),
        ("index", "I32", [3], [0, 2, -1]),
        ("half_b", "BF16", [2], [1.0, -0.5]),
        ("half", "F16", [2], [0.5, 65504.0]),
        ("pixels", "U8", [3], [0, 128, 255]),
        ("mask", "BOOL", [4], [True, False, False, True]),
    ], metadata={"format": "pt", "step": "12"}))
    write("safetensors", "scalar_and_empty.safetensors", safetensors([
        ("scalar", "F32", [], [4.0]),
        ("empty", "F32", [0, 3], []),
    ], metadata=None))
    write("safetensors", "empty_header.safetensors", safetensors([]))
    header = b'{"__metadata__":null,"t":{"dtype":"U8","shape":[2,2],"data_offsets":[0,4]}}'
    header += b" " * (-len(header) % 8)
    write("safetensors", "null_metadata.safetensors", struct.pack("<Q", len(header)) + header + bytes([1, 2, 3, 4]))


# ---- recipes: YAML text, then overrides after NUL bytes ----

QUICKSTART = b"""\
# A small supervised run, shaped like training/recipes/*.yaml.
run:
  dir: runs/quickstart
  seed: 0
  resume: false
model:
  name: resnet18
  width: 0.5
  num_classes: 10
data:
  name: fashion_mnist
  root: /usr/share/datasets/fashion-mnist
  batch_size: 256
  workers: 2
  pipeline:
    - name: random_resized_crop
      size: [28, 28]
      scale: [0.08, 1.0]
    - name: horizontal_flip
      p: 0.5
    - name: normalize
      mean: [0.286]
      std: [0.353]
optimizer:
  name: sgd
  lr: 1e-4
  momentum: 0.9
  nesterov: true
  weight_decay: 5.0e-4
schedule:
  warmup_samples: 50_000
  total_samples: 6e5
"""

FLOW_AND_ANCHORS = b"""\
defaults: &defaults {lr: 0.1, betas: [0.9, 0.999], eps: 1.0e-8}
optimizer:
  <<: *defaults
  name: "adamw"
eval:
  knn: {k: 20, temperature: 0.07}
  metrics: [test_top1, knn_top1, linear_top1]
  every: ~
tags:
  - "1"
  - 'two'
  - yes
note: |
  a literal block
  of two lines
folded: >
  one
  line
"""

TYPO = b"""\
model:
  name: vit_tiny
  patch: 4
  dpeth: 12
trainer:
  ema: {decay: 0.999, every: 1}
  epochs: -3
  nested: [[1, 2], [3, [4, 5]]]
"""


def recipe_seeds():
    write("recipe", "quickstart.yaml", QUICKSTART)
    write("recipe", "flow_and_anchors.yaml", FLOW_AND_ANCHORS)
    write("recipe", "typo.yaml", TYPO)
    write("recipe", "comment_only.yaml", b"# nothing but a comment\n")
    write("recipe", "quickstart_with_overrides.bin", QUICKSTART + b"\0".join([
        b"", b"optimizer.lr=0.1", b"run.dir=/tmp/x", b"data.pipeline.0.p=0.25",
        b"model={name: vit, depth: 2}", b"new.section.key=[1, 2]"]))
    write("recipe", "overrides_only.bin", b"\0".join([
        b"{}", b"a.b.c=1", b"a.b=", b"list=[x, y]", b"list.1=z", b"=no-key", b"a..b=2"]))


# ---- IDX: 0, 0, type 0x08 (unsigned byte), dimension count, big-endian u32 sizes, values ----

def idx(sizes, values):
    return bytes([0, 0, 8, len(sizes)]) + b"".join(struct.pack(">I", s) for s in sizes) + bytes(values)


def idx_seeds():
    labels = idx([10], range(10))
    images = idx([2, 4, 3], [(17 * i) % 256 for i in range(24)])
    write("idx", "labels.idx1", labels)
    write("idx", "images.idx3", images)
    write("idx", "labels.idx1.gz", fixed_gzip(labels))
    write("idx", "images.idx3.gz", fixed_gzip(images))
    # gzip allows several members one after the other; zlib's gzread joins them.
    write("idx", "two_members.idx1.gz", fixed_gzip(labels[:9]) + fixed_gzip(labels[9:]))
    write("idx", "four_dims.idx4", idx([1, 2, 2, 2], range(8)))


# ---- images ----

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, bit_depth, color_type, rows, extra_chunks=(), interlace=0):
    """rows: the filtered scanlines, each starting with its filter byte (one list per Adam7 pass when
    interlaced)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + b"".join(extra_chunks) +
            png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + png_chunk(b"IEND", b""))


def scanlines(width, height, samples, bytes_per_sample=1):
    """Rows cycling through the five filter types (0 none, 1 sub, 2 up, 3 average, 4 Paeth): any bytes
    after a filter byte are a valid filtered row, so every unfiltering path of a decoder runs."""
    row_bytes = width * samples * bytes_per_sample
    return [bytes([y % 5]) + bytes((31 * y + 7 * x) % 256 for x in range(row_bytes)) for y in range(height)]


def adam7_rows(width, height, samples):
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    rows = []
    for x0, y0, dx, dy in passes:
        pass_width = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_height = (height - y0 + dy - 1) // dy if height > y0 else 0
        if pass_width and pass_height:
            rows += scanlines(pass_width, pass_height, samples)
    return rows


def bmp_rgb(width, height, pixels):
    """24-bit bottom-up BMP; pixels[y][x] = (r, g, b) top row first."""
    row_size = (3 * width + 3) // 4 * 4
    data = b""
    for y in reversed(range(height)):
        row = b"".join(bytes([b, g, r]) for r, g, b in pixels[y])
        data += row + b"\0" * (row_size - len(row))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + len(data), 0, 0, 14 + len(info)) + info + data


def tga_rgb(width, height, pixels):
    """Uncompressed true-colour TGA, top-left origin; pixels as for bmp_rgb."""
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, 2, 0, 0, 0, 0, 0, width, height, 24, 0x20)
    return header + b"".join(bytes([b, g, r]) for row in pixels for r, g, b in row)


# Two baseline JPEGs written by stb_image_write (stbi_write_jpg), the encoder of the libstb Debian ships:
# an 8x8 gray ramp (pixel = 32x + 4y, quality 75; stbi_write_jpg stores it as three YCbCr components) and
# a 16x8 RGB ramp ((16x, 32y, 255 - 8x), quality 50).
GRAY_JPEG = """
/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAx
NDQ0Hyc5PTgyPC4zNDIBCQkJDAsMGA0NGDIhHCEyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIy
MjIyMv/AABEIAAgACAMBIgACEQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQEC
AwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVm
Z2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq
8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIy
gQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SF
hoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEA
AhEDEQA/AG/B6z/49+PSvcPsftXjvwe/5d/wr3CgD//Z
"""
RGB_JPEG = """
/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19i
Z2hnPk1xeXBkeFxlZ2MBERISGBUYLxoaL2NCOEJjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj
Y2NjY//AABEIAAgAEAMBIgACEQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQEC
AwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVm
Z2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq
8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIy
gQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SF
hoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEA
AhEDEQA/AKsOhf7FaEOhf7FaMNaENdWOxVTXU48txlXTU//Z
"""

# The well-known 1x1 transparent GIF89a: a global palette of two colours, a graphic control extension
# marking colour 0 transparent, one image with LZW minimum code size 2. decode_image refuses GIF and TGA
# (it reads PNG, JPEG, BMP and PNM): these two seeds keep that refusal exercised.
PIXEL_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
             b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def image_seeds():
    write("image", "gray_4x4.png", png(4, 4, 8, 0, scanlines(4, 4, 1)))
    write("image", "gray_alpha_3x2.png", png(3, 2, 8, 4, scanlines(3, 2, 2)))
    write("image", "rgb_3x2.png", png(3, 2, 8, 2, scanlines(3, 2, 3)))
    write("image", "rgba_2x2.png", png(2, 2, 8, 6, scanlines(2, 2, 4)))
    palette = png_chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]))
    transparency = png_chunk(b"tRNS", bytes([255, 128, 0]))
    palette_rows = [bytes([0, 0b00011011]), bytes([0, 0b11100100])]  # 2 bits per pixel, 4 pixels a row
    write("image", "palette_4x2.png", png(4, 2, 2, 3, palette_rows, extra_chunks=(palette, transparency)))
    write("image", "gray16_2x2.png", png(2, 2, 16, 0, scanlines(2, 2, 1, bytes_per_sample=2)))
    write("image", "rgb_interlaced_5x5.png", png(5, 5, 8, 2, adam7_rows(5, 5, 3), interlace=1))
    write("image", "ramp_8x8.jpg", base64.b64decode(GRAY_JPEG))
    write("image", "rgb_16x8.jpg", base64.b64decode(RGB_JPEG))
    pixels = [[(255, 0, 0), (0, 255, 0), (0, 0, 255)], [(0, 0, 0), (128, 128, 128), (255, 255, 255)]]
    write("image", "rgb_3x2.bmp", bmp_rgb(3, 2, pixels))
    write("image", "rgb_3x2.tga", tga_rgb(3, 2, pixels))
    write("image", "gray_3x2.pgm", b"P5\n3 2\n255\n" + bytes([0, 50, 100, 150, 200, 250]))
    write("image", "rgb_2x2.ppm", b"P6\n# a comment\n2 2\n255\n" + bytes(range(0, 240, 20)))
    write("image", "pixel.gif", PIXEL_GIF)


if __name__ == "__main__":
    safetensors_seeds()
    recipe_seeds()
    idx_seeds()
    image_seeds()
    for parser in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, parser))
        print(f"{parser}: {len(files)} files")
