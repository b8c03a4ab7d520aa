"""Real photographs to measure photo captioning on: GCompris's photos, Debian's wallpapers
and Tux Paint's photographic stamps, all read from pinned Debian packages.

The Debian package ``gcompris-qt-data`` (photos under per-file CC licences, see its
``copyright``) keeps each activity's pictures inside a Qt resource bundle (``.rcc``).
``read_qt_resources`` reads that format (header, tree, names, zlib-compressed data) so the
photos come straight from the pinned package, fetched by ``apt-get download``; nothing is
copied into this repository but the labels: which of the detector's classes each photo holds,
in ``photo_eval_labels.json`` (and ``wallpaper_eval_labels.json``,
``stamp_eval_labels.json``), written for this project by looking at the photos.

Example:

    for name, pixels, classes in gcompris_photos("data/photo"):
        ...                                   # classes == [] for a photo holding none
"""

import io
import json
import os
import re
import struct
import zlib

import numpy as np

LABELS = os.path.join(os.path.dirname(__file__), "photo_eval_labels.json")
WALLPAPER_LABELS = os.path.join(os.path.dirname(__file__), "wallpaper_eval_labels.json")
STAMP_LABELS = os.path.join(os.path.dirname(__file__), "stamp_eval_labels.json")


def read_qt_resources(blob):
    """The files of a Qt binary resource bundle: ``{"/path/in/bundle": bytes}``.

    Raises ValueError for bytes that are not an ``.rcc`` bundle or point outside it.

    Example:
        >>> files = read_qt_resources(open("erase.rcc", "rb").read())
        >>> sorted(files)[0]
        '/gcompris/src/activities/erase/resource/...'
    """
    if len(blob) < 20 or blob[:4] != b"qres":
        raise ValueError("blob is not a Qt resource bundle (no 'qres' magic)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"blob has Qt resource format version {version}; expected 1, 2 or 3")
    entry = 22 if version >= 2 else 14

    def field(fmt, offset):
        size = struct.calcsize(fmt)
        if offset < 0 or offset + size > len(blob):
            raise ValueError("blob is truncated: an entry points outside it")
        return struct.unpack(fmt, blob[offset:offset + size])

    def name(offset):
        (length,) = field(">H", names + offset)
        start = names + offset + 6  # length, then a 4-byte hash, then UTF-16 text
        return blob[start:start + 2 * length].decode("utf-16-be")

    files, stack = {}, [(0, "")]
    while stack:
        index, prefix = stack.pop()
        at = tree + index * entry
        name_offset, flags = field(">IH", at)
        path = prefix + ("/" + name(name_offset) if index else "")
        if flags & 2:  # a directory: its children are contiguous entries
            count, first = field(">II", at + 6)
            stack.extend((child, path) for child in range(first, first + count))
            continue
        (offset,) = field(">I", at + 10)
        (length,) = field(">I", data + offset)
        content = blob[data + offset + 4:data + offset + 4 + length]
        if flags & 1:  # qCompress: 4-byte size, then zlib
            content = zlib.decompress(content[4:])
        elif flags & 4:
            raise ValueError(f"{path}: zstd-compressed resources are not supported")
        files[path] = content
    return files


def gcompris_photos(root, labels_path=LABELS):
    """Fetch ``gcompris-qt-data`` (cached under ``root``) and yield its labelled photos as
    ``(resource path, uint8 [H, W, 3], classes)``, in the labels file's order."""
    from PIL import Image

    from tasks.core.debian import fetch_package

    with open(labels_path, encoding="utf-8") as f:
        spec = json.load(f)
    tree, _ = fetch_package(spec["package"], spec["version"], os.path.join(root, "deb"))
    bundles = {}
    for path, classes in spec["photos"].items():
        activity = path.split("/")[4]  # /gcompris/src/activities/<activity>/...
        if activity not in bundles:
            rcc = os.path.join(tree, "usr", "share", "gcompris-qt", "rcc", f"{activity}.rcc")
            with open(rcc, "rb") as f:
                bundles[activity] = read_qt_resources(f.read())
        if path not in bundles[activity]:
            raise ValueError(f"{spec['package']} {spec['version']} has no {path}")
        pixels = np.asarray(Image.open(io.BytesIO(bundles[activity][path])).convert("RGB"))
        yield path, pixels, classes


def wallpaper_photos(root, labels_path=WALLPAPER_LABELS, max_side=1280):
    """Fetch the pinned Debian wallpaper packages (cached under ``root``) and yield their
    labelled photographs as ``(package:path, uint8 [H, W, 3], classes)``, shrunk to at most
    ``max_side`` pixels a side (the detector sees 300x300; the packages' photos are up to
    5,000 pixels wide).

    Example:
        >>> next(wallpaper_photos("data/photo"))[::2]
        ('mate-backgrounds:/usr/share/backgrounds/mate/nature/Aqua.jpg', [])
    """
    from PIL import Image

    from tasks.core.debian import fetch_package

    with open(labels_path, encoding="utf-8") as f:
        spec = json.load(f)
    trees = {name: fetch_package(name, version, os.path.join(root, "deb"))[0]
             for name, version in spec["packages"].items()}
    for key, classes in spec["photos"].items():
        package, _, path = key.partition(":")
        if package not in trees:
            raise ValueError(f"{labels_path!r} names {key!r}, but {package!r} is not in its packages")
        file = os.path.join(trees[package], path.lstrip("/"))
        if not os.path.isfile(file):
            raise ValueError(f"{package} {spec['packages'][package]} has no {path}")
        with Image.open(file) as image:
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side), Image.LANCZOS)
            yield key, np.asarray(image), classes


def paste_on_grey(stamp, canvas=320, fit=256, grey=128):
    """An RGBA cut-out -> uint8 ``[canvas, canvas, 3]``: shrunk to fit ``fit`` pixels a side
    (never enlarged), centred on a plain ``grey`` square, its alpha channel as the mask.

    Example:
        >>> paste_on_grey(Image.new("RGBA", (40, 20), (255, 0, 0, 255))).shape
        (320, 320, 3)
    """
    from PIL import Image

    stamp = stamp.convert("RGBA")
    stamp.thumbnail((fit, fit), Image.LANCZOS)
    square = Image.new("RGBA", (canvas, canvas), (grey, grey, grey, 255))
    square.alpha_composite(stamp, ((canvas - stamp.width) // 2, (canvas - stamp.height) // 2))
    return np.asarray(square.convert("RGB"))


def stamp_photos(root, labels_path=STAMP_LABELS):
    """Fetch Tux Paint's pinned stamp package (cached under ``root``) and yield its labelled
    photographic cut-outs, each pasted on grey (:func:`paste_on_grey`), as ``(path, uint8
    [320, 320, 3], classes)``. Most hold none of the detector's classes (fruit, tools,
    instruments, wild animals): hard cases for false claims.

    Example:
        >>> next(stamp_photos("data/photo"))[::2]
        ('/usr/share/tuxpaint/stamps/food/fruit/pineapple.png', [])
    """
    from PIL import Image

    from tasks.core.debian import fetch_package

    with open(labels_path, encoding="utf-8") as f:
        spec = json.load(f)
    (package, version), = spec["package"].items()
    tree, _ = fetch_package(package, version, os.path.join(root, "deb"))
    for path, classes in spec["stamps"].items():
        file = os.path.join(tree, path.lstrip("/"))
        if not os.path.isfile(file):
            raise ValueError(f"{package} {version} has no {path}")
        with Image.open(file) as stamp:
            yield path, paste_on_grey(stamp), classes


# scikit-image's sample photos, labelled for this project like photo_eval_labels.json: the
# classes each photo holds (any of them is a right answer), and photos holding none. A
# photo whose content is ambiguous for the detector's classes is left out.
SKIMAGE_LABELS = {"astronaut": ["Person"], "camera": ["Person", "Camera"], "chelsea": ["Cat"],
                  "coffee": ["Coffee cup", "Mug"],
                  **{name: [] for name in ("rocket", "clock", "coins", "moon", "hubble_deep_field",
                                           "immunohistochemistry", "retina", "brick", "grass",
                                           "gravel", "page", "text", "colorwheel")}}
# the words a caption may use for an object of each class
CAPTION_WORDS = {"Person": ("person", "man", "woman", "people"), "Camera": ("camera",),
                 "Cat": ("cat", "kitten"), "Coffee cup": ("cup", "mug"), "Mug": ("cup", "mug"),
                 "Dog": ("dog", "puppy"), "Cattle": ("cow", "cattle", "calf", "bull"),
                 "Chair": ("chair",), "Footwear": ("shoe", "footwear"),
                 "Computer mouse": ("computer mouse", "computer mice"),
                 "High heels": ("high heels",)}


def skimage_photos():
    """scikit-image's labelled sample photos: ``(name, uint8 [h, w, 3], classes)`` each.

    Example:
        >>> [(name, classes) for name, _, classes in skimage_photos()][:2]
        [('astronaut', ['Person']), ('camera', ['Person', 'Camera'])]
    """
    from skimage import data

    for name, classes in SKIMAGE_LABELS.items():
        pixels = getattr(data, name)()
        pixels = np.stack([pixels] * 3, -1) if pixels.ndim == 2 else pixels[..., :3]
        yield name, pixels, list(classes)


def sklearn_photos():
    """scikit-learn's two sample photos (CC BY 2.0, see its ``load_sample_images``), which
    hold none of the detector's classes: a pagoda above a lake, and a dahlia.

    Example:
        >>> [(name, classes) for name, _, classes in sklearn_photos()]
        [('china', []), ('flower', [])]
    """
    from sklearn.datasets import load_sample_images

    sample = load_sample_images()
    for path, pixels in zip(sample.filenames, sample.images):
        yield os.path.splitext(os.path.basename(path))[0], np.asarray(pixels)[..., :3], []


def caption_scores(captions, expected, abstain="a photo"):
    """How often captions name an object a photo holds, and claim one on a photo holding none.

    Args:
        captions: ``{photo: caption}``.
        expected: ``{photo: [classes it holds]}``; ``[]`` for a photo holding none.
        abstain: the caption that claims nothing.

    Returns:
        ``{"main_object_right", "false_claims"}``: the photos with an object whose caption
        holds a word for one of them (singular or plural), and the photos without one whose
        caption is not ``abstain``.

    Example:
        >>> caption_scores({"a": "a cat", "b": "a dog"}, {"a": ["Cat"], "b": []})
        {'main_object_right': 1, 'false_claims': 1}
        >>> caption_scores({"a": "two shoes", "b": "a computer monitor"},
        ...                {"a": ["Footwear"], "b": ["Computer monitor"]})
        {'main_object_right': 2, 'false_claims': 0}
    """
    def names(caption, label):  # a word (or phrase) for the class, singular or plural
        return any(re.search(rf"\b{re.escape(w)}s?\b", caption)
                   for w in CAPTION_WORDS.get(label, (label.lower(),)))

    right = sum(any(names(captions[n], label) for label in expected[n])
                for n in expected if expected[n])
    false = sum(captions[n] != abstain for n in expected if not expected[n])
    return {"main_object_right": right, "false_claims": false}
