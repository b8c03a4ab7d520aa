"""Small files in the exact formats the style data reads: Qt ``.rcc`` bundles laid out like
GCompris's, a painting puzzle board with its tiles, resource READMEs, and TF.js weights."""

import io
import os
import struct
import zlib

import numpy as np
from PIL import Image


def write_qt_resources(files, version=2, compress=()):
    """``{path: bytes}`` -> an ``.rcc`` blob (the layout Qt's rcc writes: nodes
    breadth-first, each directory's children contiguous)."""
    tree = {}
    for path, data in files.items():
        node = tree
        parts = path.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = data
    names, data_block, nodes = b"", b"", []
    name_offsets = {}

    def name_offset(name):
        nonlocal names
        if name not in name_offsets:
            name_offsets[name] = len(names)
            encoded = name.encode("utf-16-be")
            names += struct.pack(">HI", len(name), 0) + encoded
        return name_offsets[name]

    nodes.append(None)  # the root, filled below
    pending = [(0, tree, "")]
    while pending:
        index, node, prefix = pending.pop(0)
        children = sorted(node.items())
        first = len(nodes)
        nodes.extend([None] * len(children))
        name = prefix.rsplit("/", 1)[-1]
        nodes[index] = ("dir", name_offset(name) if index else 0, len(children), first)
        for offset, (child_name, child) in enumerate(children):
            path = f"{prefix}/{child_name}" if prefix else child_name
            if isinstance(child, dict):
                pending.append((first + offset, child, path))
            else:
                payload, flags = child, 0
                if path in compress:
                    payload, flags = struct.pack(">I", len(child)) + zlib.compress(child), 1
                nodes[first + offset] = ("file", name_offset(child_name), flags, len(data_block))
                data_block += struct.pack(">I", len(payload)) + payload
    packed = b""
    for node in nodes:
        if node[0] == "dir":
            _, name, count, first = node
            packed += struct.pack(">IHII", name, 2, count, first)
        else:
            _, name, flags, offset = node
            packed += struct.pack(">IHHHI", name, flags, 0, 0, offset)
        if version >= 2:
            packed += struct.pack(">Q", 0)
    header = 20
    tree_offset = header
    data_offset = tree_offset + len(packed)
    names_offset = data_offset + len(data_block)
    return (b"qres" + struct.pack(">IIII", version, tree_offset, data_offset, names_offset)
            + packed + data_block + names)


def encode(image, fmt="WEBP"):
    buf = io.BytesIO()
    image.save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


def png_bytes(image):
    """A PIL image encoded as PNG."""
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def painting(width=60, height=40, seed=0):
    """A deterministic RGB test 'painting' (a gradient with noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], -1)
    pixels = (pixels + rng.integers(0, 30, pixels.shape)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def board_qml(title, tiles):
    """A GCompris paintings board: ``tiles`` = [(file name, x fraction, y fraction)]."""
    entries = ",\n".join(
        f'      {{\n         "pixmapfile" : "image/{name}",\n         "x" : "{x}",\n'
        f'         "y" : "{y}"\n      }}' for name, x, y in tiles)
    return (f'import QtQuick 2.12\nQtObject {{\n   property string instruction: qsTr("{title}")\n'
            '   property var levels : [\n      {\n         "pixmapfile" : "image/bg.svg",\n'
            '         "type" : "SHAPE_BACKGROUND_IMAGE"\n      },\n'
            f'{entries}\n   ]\n}}\n').encode()


def gcompris_tree(root, photo_size=(400, 320)):
    """A fake unpacked ``gcompris-qt-data`` with every bundle the style data reads.

    The paintings board holds one painting cut into a left and a right tile placed so
    they restore it on the 702 x 515 board; ``details`` has one public-domain Van Gogh
    and one CC photo (not a style); each photo bundle holds two licensed photos, one
    unlicensed one and one too small.
    """
    rcc = os.path.join(root, "usr/share/gcompris-qt/rcc")
    os.makedirs(rcc, exist_ok=True)
    art = painting(60, 40)
    left, right = art.crop((0, 0, 30, 40)), art.crop((30, 0, 60, 40))
    # centres: the painting's top-left at (100, 100) on the board
    tiles = [("art_a1.webp", (100 + 15) / 702, (100 + 20) / 515),
             ("art_a2.webp", (100 + 45) / 702, (100 + 20) / 515)]
    base = "gcompris/src/activities"
    paintings = {f"{base}/paintings/resource/board/board1_0.qml":
                 board_qml("Jane Painter, The Test Painting - 1900", tiles),
                 f"{base}/paintings/resource/image/art_a1.webp": encode(left),
                 f"{base}/paintings/resource/image/art_a2.webp": encode(right)}
    with open(os.path.join(rcc, "paintings.rcc"), "wb") as f:
        f.write(write_qt_resources(paintings, compress={f"{base}/paintings/resource/image/art_a1.webp"}))
    readme = ("Copyright: 2000 Someone\nLicense: Public domain\nFiles:\nVanGoghTest_background.webp\n"
              "Comment: based on an original painting by Van Gogh, Public domain image.\n\n"
              "Copyright: 2000 Someone\nLicense: CC-BY-SA 4.0\nFiles:\nCastle_background.webp\n"
              "Comment: based on a photo\n")
    details = {f"{base}/details/resource/image/README": readme.encode(),
               f"{base}/details/resource/image/VanGoghTest_background.webp": encode(painting(50, 40, 1)),
               f"{base}/details/resource/image/Castle_background.webp": encode(painting(50, 40, 2))}
    with open(os.path.join(rcc, "details.rcc"), "wb") as f:
        f.write(write_qt_resources(details))
    for i, bundle in enumerate(("erase", "explore_monuments", "explore_world_animals",
                                "explore_world_music")):
        folder = f"{base}/{bundle}/resource"
        readme = (f"Copyright: A\nSource: https://example.org/File:Original_{i}.jpg\n"
                  f"License: CC0-1.0\nFiles: p{i}a.webp\n\n"
                  f"Copyright: B\nLicense: Public Domain\nFiles:\np{i}b.webp\ntiny{i}.webp\n")
        files = {f"{folder}/README": readme.encode(),
                 f"{folder}/p{i}a.webp": encode(painting(*photo_size, seed=10 + i)),
                 f"{folder}/p{i}b.webp": encode(painting(*photo_size, seed=20 + i)),
                 f"{folder}/unlicensed{i}.webp": encode(painting(*photo_size, seed=30 + i)),
                 f"{folder}/tiny{i}.webp": encode(painting(100, 80, seed=40 + i))}
        with open(os.path.join(rcc, f"{bundle}.rcc"), "wb") as f:
            f.write(write_qt_resources(files))
    return art


def mate_tree(root, count=5):
    folder = os.path.join(root, "usr/share/backgrounds/mate/nature")
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        painting(500, 360, seed=50 + i).save(os.path.join(folder, f"Photo{i}.jpg"), quality=95)


def tfjs_model(folder, arrays, quantize=()):
    """Write ``model.json`` + one shard for ``{name: float32 array}``; names in
    ``quantize`` are stored uint8 with affine quantisation. Returns the dequantised values."""
    import json

    os.makedirs(folder, exist_ok=True)
    specs, buffer, expected = [], b"", {}
    for name, array in arrays.items():
        array = np.asarray(array, np.float32)
        spec = {"name": name, "shape": list(array.shape), "dtype": "float32"}
        if name in quantize:
            low, high = float(array.min()), float(array.max())
            scale = (high - low) / 255 or 1.0
            q = np.round((array - low) / scale).astype(np.uint8)
            spec["quantization"] = {"min": low, "scale": scale, "dtype": "uint8"}
            buffer += q.tobytes()
            expected[name] = q.astype(np.float32) * scale + low
        else:
            buffer += array.tobytes()
            expected[name] = array
        specs.append(spec)
    with open(os.path.join(folder, "group1-shard1of1"), "wb") as f:
        f.write(buffer)
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump({"modelTopology": {}, "weightsManifest": [{"paths": ["group1-shard1of1"],
                                                              "weights": specs}]}, f)
    return expected


def serve_in_stock_tensorflow(stock_tf, exported, out_dir, images, styles=()):
    """Run ``tests/stock_tf_serving.py --style`` (only tensorflow installed) on image files;
    returns its JSON (``outputs``: the PNG files it wrote)."""
    extra = ["--styles", *styles] if styles else []
    return stock_tf.serve("--style", exported, out_dir, *images, *extra)
