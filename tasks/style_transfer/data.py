"""The built-in style-transfer data: real photographs and public-domain paintings from Debian.

    pipelines build-data style --output data/style

Sources (pinned Debian bookworm packages, fetched with ``apt-get download``):
- ``gcompris-qt-data``: 22 paintings of the "paintings" puzzle (Hokusai, Van Gogh,
  Kandinsky, Renoir...), shipped as jigsaw tiles inside a Qt resource bundle and put back
  together here from the puzzle's own board files; the public-domain Van Gogh paintings
  of the "details" activity; and about a hundred real photographs (animals, monuments,
  people making music) with a licence per file in the activity's README.
- ``mate-backgrounds``: twelve nature photographs (GPL-2+).

Layout written under ``root``::

    styles/<name>.jpg             paintings, one per style
    content/train/<name>.jpg      photographs for training (longer side <= 1024)
    content/test/<name>.jpg       held-out photographs (never used in training)
    manifest.json                 every file with its source, package and licence

Example:
    >>> manifest = build_style_data("data/style")
    >>> train_images("data/style")[:1]
    ['data/style/content/train/alpaca.jpg']
"""

import glob
import io
import os
import random
import re

import tensorflow as tf

from tasks.core.debian import fetch_package
from tasks.core.manifest import reusable_manifest, write_manifest
from tasks.style_transfer.qt_resources import read_qt_resources

VERSION = 2
PACKAGES = (("gcompris-qt-data", "3.1-2"), ("mate-backgrounds", "1.26.0-1"))
RCC = "usr/share/gcompris-qt/rcc"
PHOTO_BUNDLES = ("erase", "explore_monuments", "explore_world_animals", "explore_world_music")
PAINTINGS_LICENCE = "GPL-3+ (WebMuseum paintings, per Debian's copyright file for gcompris-qt-data)"
MATE_LICENCE = "GPL-2+ (per Debian's copyright file for mate-backgrounds)"
MAX_SIDE = 1024
# Names for the "details" activity's Van Gogh files (the others keep their file names).
VAN_GOGH_TITLES = {"Gogh4": "cafe_terrace_at_night", "VincentVanGoghBridge": "langlois_bridge",
                   "Van_Gogh_The_Night_Cafe": "night_cafe",
                   "PortraitOfPereTanguy": "portrait_of_pere_tanguy",
                   "Eglise_dAuvers-sur-Oise": "church_at_auvers"}
TEST_IMAGES = 12
IMAGE_SUFFIXES = (".webp", ".jpg", ".jpeg", ".png")


def slug(text):
    """'Katsushika Hokusai, The Great Wave off Kanagawa - 1823' -> 'great_wave_off_kanagawa'."""
    title = text.split(",", 1)[-1].split(" - ")[0]
    words = re.findall(r"[a-z0-9]+", title.lower())
    if words and words[0] == "the":
        words = words[1:]
    return "_".join(words)


def readme_licences(text):
    """``{file name: licence}`` from a GCompris resource README (DEP-5-like blocks)."""
    licences = {}
    for block in re.split(r"\n\s*\n", text):
        licence = re.search(r"^License:\s*(.+)$", block, re.M)
        if not licence:
            continue
        # Source/Comment lines name the originals (e.g. on Wikimedia), not the shipped files.
        shipped = re.sub(r"^(?:Source|Comments?|Copyright):.*$", "", block, flags=re.M)
        for name in re.findall(r"[\w./-]+\.(?:webp|jpe?g|png|svg)\b", shipped, re.I):
            licences[os.path.basename(name)] = licence.group(1).strip()
    return licences


def _bundle(tree, name):
    with open(os.path.join(tree, RCC, f"{name}.rcc"), "rb") as f:
        return read_qt_resources(f.read())


def assemble_paintings(files):
    """Put the 'paintings' puzzle's tiles back together: ``[(title, PIL.Image)]``.

    Each board file lists its tiles with the centre of each as a fraction of a 702 x 515
    board; pasting them there restores the painting, cropped to what the tiles cover.
    """
    from PIL import Image

    board_size = (702, 515)
    tiles = {os.path.basename(k): v for k, v in files.items() if k.endswith(".webp")}
    paintings = []
    for path in sorted(k for k in files if re.search(r"/board/board\d+_0\.qml$", k)):
        text = files[path].decode("utf-8")
        title = re.search(r'instruction:\s*qsTr\("([^"]+)"\)', text).group(1)
        canvas = Image.new("RGBA", board_size, (0, 0, 0, 0))
        for name, x, y in re.findall(r'"pixmapfile"\s*:\s*"image/([^"]+\.webp)",\s*'
                                     r'"x"\s*:\s*"([\d.]+)",\s*"y"\s*:\s*"([\d.]+)"', text):
            tile = Image.open(io.BytesIO(tiles[name])).convert("RGBA")
            canvas.alpha_composite(tile, (round(float(x) * board_size[0] - tile.width / 2),
                                          round(float(y) * board_size[1] - tile.height / 2)))
        canvas = canvas.crop(canvas.getbbox())
        white = Image.new("RGBA", canvas.size, (255, 255, 255, 255))
        paintings.append((title, Image.alpha_composite(white, canvas).convert("RGB")))
    return paintings


def _fit(image):
    image = image.convert("RGB")
    scale = MAX_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)),
                             resample=3)  # bicubic
    return image


def _collect(trees):
    """Every style and content image with its source: ``(kind, name, image, entry)``."""
    from PIL import Image

    gcompris = trees["gcompris-qt-data"]
    for title, image in assemble_paintings(_bundle(gcompris, "paintings")):
        yield "style", slug(title), image, {"title": title, "package": "gcompris-qt-data",
                                            "source": "paintings activity", "licence": PAINTINGS_LICENCE}
    details = _bundle(gcompris, "details")
    readme = next(v for k, v in details.items() if k.endswith("image/README")).decode("utf-8")
    for block in re.split(r"\n\s*\n", readme):
        if "Van Gogh" in block and re.search(r"License:\s*Public domain", block, re.I):
            for name in re.findall(r"(\S+)_background\.webp", block):
                data = next(v for k, v in details.items() if k.endswith(f"/{name}_background.webp"))
                title = VAN_GOGH_TITLES.get(name) or slug("x, " + name.replace("_", " "))
                yield "style", "van_gogh_" + title, \
                    Image.open(io.BytesIO(data)), {"title": f"Vincent van Gogh ({name})",
                                                   "package": "gcompris-qt-data",
                                                   "source": "details activity", "licence": "Public domain"}
    for bundle in PHOTO_BUNDLES:
        files = _bundle(gcompris, bundle)
        licences = {}
        for key, value in files.items():
            if key.endswith("/README"):
                licences.update(readme_licences(value.decode("utf-8")))
        for key in sorted(files):
            base = os.path.basename(key)
            if not base.lower().endswith(IMAGE_SUFFIXES) or base not in licences:
                continue
            image = Image.open(io.BytesIO(files[key]))
            if min(image.size) < 300:
                continue
            yield "content", slug(f"x, {bundle} {os.path.splitext(base)[0]}"), image, {
                "package": "gcompris-qt-data", "source": f"{bundle} activity",
                "licence": licences[base]}
    for path in sorted(glob.glob(os.path.join(trees["mate-backgrounds"],
                                              "usr/share/backgrounds/mate/nature/*.jpg"))):
        yield "content", "mate_" + slug("x, " + os.path.splitext(os.path.basename(path))[0]), \
            Image.open(path), {"package": "mate-backgrounds", "source": "nature backgrounds",
                               "licence": MATE_LICENCE}


def build_style_data(root, seed=0, progress=True, allow_other_version=False):
    """Build (or reuse) the built-in style data under ``root``; returns the manifest."""
    from tqdm.auto import tqdm

    wanted = {"version": VERSION, "seed": seed, "packages": [list(p) for p in PACKAGES],
              "test_images": TEST_IMAGES, "max_side": MAX_SIDE}
    done = reusable_manifest(root, wanted)
    if done is not None:
        return done
    cache = os.path.join(root, "cache")
    trees, versions = {}, {}
    for name, version in PACKAGES:
        trees[name], versions[name] = fetch_package(name, version, cache, allow_other_version)
    items = list(tqdm(_collect(trees), desc="images", disable=not progress))
    content = sorted(i[1] for i in items if i[0] == "content")
    test = set(random.Random(seed).sample(content, TEST_IMAGES))
    files = []
    for kind, name, image, entry in items:
        folder = "styles" if kind == "style" else os.path.join(
            "content", "test" if name in test else "train")
        relative = os.path.join(folder, f"{name}.jpg")
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        image = _fit(image)
        image.save(os.path.join(root, relative), quality=92)
        files.append({"path": relative, "width": image.width, "height": image.height, **entry})
    counts = {"styles": sum(i[0] == "style" for i in items), "content_train": len(content) - len(test),
              "content_test": len(test)}
    return write_manifest(root, dict(wanted, versions_used=versions, counts=counts, files=files))


def _listing(root, folder):
    paths = sorted(glob.glob(os.path.join(root, folder, "*.jpg")))
    if not paths:
        raise ValueError(f"data={root!r} has no images in {folder}/; build it with "
                         "'pipelines build-data style --output DIR'")
    return paths


def train_images(root):
    """Paths of the training photographs."""
    return _listing(root, "content/train")


def test_images(root):
    """Paths of the held-out photographs."""
    return _listing(root, "content/test")


def style_images(root):
    """``{style name: path}`` of the paintings."""
    return {os.path.splitext(os.path.basename(p))[0]: p for p in _listing(root, "styles")}


def read_image(path, channels=3):
    """A file's bytes -> uint8 ``[h, w, 3]`` (TF ops; JPEG/PNG/GIF/BMP)."""
    from tasks.core.images import decode_image_bytes

    return decode_image_bytes(tf.io.read_file(path), channels)


def shorter_side(image, side):
    """uint8/float ``[h, w, 3]`` (or a batch of them) -> float32 with its shorter side at
    ``side`` (antialiased), values on the input's scale."""
    shape = tf.cast(tf.shape(image)[-3:-1], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(shape)
    size = tf.cast(tf.round(shape * scale), tf.int32)
    return tf.image.resize(tf.cast(image, tf.float32), size, antialias=True)


def make_dataset(paths, image_size=256, batch_size=4, seed=0, repeat=True, cache_side=512):
    """Training crops: ``(pixels, pixels)`` batches, float32 ``[b, s, s, 3]`` in [0, 1].

    Each photo is decoded once and cached with its shorter side at ``cache_side``; every
    draw then takes a random-scale square crop (``image_size`` to ``cache_side`` pixels,
    resized to ``image_size``) and a random horizontal flip, seeded for reproducibility.
    The target is the input itself: the perceptual loss compares the stylised output
    with it.

    Example:
        >>> ds = make_dataset(train_images("data/style"), image_size=256, batch_size=4)
    """
    from tasks.core.data import AUTOTUNE, with_options

    if not paths:
        raise ValueError("paths is empty; expected image files")
    if cache_side < image_size:
        raise ValueError(f"cache_side ({cache_side}) must be >= image_size ({image_size})")
    images = tf.data.Dataset.from_tensor_slices(list(paths))
    images = images.map(lambda p: shorter_side(read_image(p), cache_side),
                        num_parallel_calls=AUTOTUNE).cache()
    if repeat:
        images = images.repeat()
    images = images.shuffle(len(paths), seed=seed)

    def crop(index, image):
        # stateless randomness keyed by the draw's index: the same seed gives the same crops
        seeds = tf.random.experimental.stateless_split(tf.stack([seed, tf.cast(index, tf.int32)]), 3)
        side = tf.random.stateless_uniform([], seeds[0], image_size, cache_side + 1, tf.int32)
        patch = tf.image.stateless_random_crop(image, [side, side, 3], seeds[1])
        patch = tf.image.resize(patch, [image_size, image_size], antialias=True)
        patch = tf.image.stateless_random_flip_left_right(patch, seeds[2])
        patch = tf.clip_by_value(patch / 255.0, 0.0, 1.0)
        return patch, patch

    ds = images.enumerate().map(crop, num_parallel_calls=AUTOTUNE)
    return with_options(ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE))


# Paintings never shown to the arbitrary-style network in training: its quality on styles it
# has not seen is measured on these.
HELD_OUT_STYLES = ("harvesters", "poppies", "van_gogh_church_at_auvers", "horse_mackerel_and_prawn")


def arbitrary_style_split(root):
    """``(train, test)`` lists of painting paths for the arbitrary-style network."""
    paintings = style_images(root)
    test = [paintings[n] for n in HELD_OUT_STYLES if n in paintings]
    return [p for n, p in sorted(paintings.items()) if n not in HELD_OUT_STYLES], test


def make_pair_dataset(content_paths, style_paths, image_size=128, batch_size=8, style_side=256,
                      seed=0, cache_side=384, style_crop=None):
    """Training batches for the arbitrary-style network, repeated forever.

    ``x = {'content', 'style', 'strength'}``: random-scale photo crops of ``image_size`` as
    in :func:`make_dataset`, and crops of ``style_crop`` (default: ``image_size``, or
    ``style_side`` when that is smaller) from a random painting whose shorter side is
    ``style_side`` (the scale a style image is given at inference), both flipped at random;
    ``strength`` is 1. ``y`` is content and style stacked on the channels
    (``[b, s, s, 6]``, the style zero-padded at the bottom and right when its crop is
    smaller): the loss needs both, and :func:`split_pair_target` takes them apart.

    Example:
        >>> train, _ = arbitrary_style_split("data/style")
        >>> ds = make_pair_dataset(train_images("data/style"), train, image_size=128)
        >>> ds = make_pair_dataset(train_images("data/style"), train, image_size=512,
        ...                        cache_side=512)   # 512² photos, 256² painting crops
    """
    from tasks.core.data import AUTOTUNE, with_options

    if not style_paths:
        raise ValueError("style_paths is empty; expected painting image files")
    style_crop = int(style_crop or min(image_size, style_side))
    if not 0 < style_crop <= min(image_size, style_side):
        raise ValueError(f"style_crop ({style_crop}) must be in 1..min(image_size, style_side) "
                         f"= {min(image_size, style_side)}: a crop of the painting at its "
                         f"inference scale (style_side {style_side}), no larger than the photos")
    photos = make_dataset(content_paths, image_size, 1, seed=seed, cache_side=cache_side).unbatch()
    paintings = tf.data.Dataset.from_tensor_slices(list(style_paths))
    paintings = paintings.map(lambda p: shorter_side(read_image(p), style_side),
                              num_parallel_calls=AUTOTUNE).cache().repeat()
    paintings = paintings.shuffle(len(style_paths), seed=seed + 1)

    def crop(index, image):
        seeds = tf.random.experimental.stateless_split(
            tf.stack([seed + 1, tf.cast(index, tf.int32)]), 2)
        patch = tf.image.stateless_random_crop(image, [style_crop, style_crop, 3], seeds[0])
        patch = tf.image.stateless_random_flip_left_right(patch, seeds[1])
        return tf.clip_by_value(patch / 255.0, 0.0, 1.0)

    styles = paintings.enumerate().map(crop, num_parallel_calls=AUTOTUNE)

    def pair(content, style):
        inputs = {"content": content[0], "style": style, "strength": tf.ones([])}
        padded = tf.image.pad_to_bounding_box(style, 0, 0, image_size, image_size)
        return inputs, tf.concat([content[0], padded], axis=-1)

    ds = tf.data.Dataset.zip(photos, styles).map(pair, num_parallel_calls=AUTOTUNE)
    return with_options(ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE))


def split_pair_target(y, style_crop=None):
    """A :func:`make_pair_dataset` target ``[b, s, s, 6]`` -> ``(content, style)``, the
    style cut back to its ``style_crop``² (None: the whole ``s``²)."""
    style = y[..., 3:]
    if style_crop:
        style = style[:, :style_crop, :style_crop, :]
    return y[..., :3], style
