"""The built-in offline captioning benchmark ("emoji scenes").

Scenes of one to three objects drawn from emoji glyphs (see ``glyphs.py``), tinted
with a colour, scaled to a size class, placed on textured sky/ground or gradient
backgrounds with lighting changes, blur and partial occlusion. Every image has five
captions from the grammar below; the generator is a pure function of ``seed``.

Grammar (NP = ``a <size> <colour> <object>``):

* single:   NP | there is NP | a picture of NP | NP in the scene | one <size> <colour> <object>
* relation: NP1 to the left of NP2 | NP2 to the right of NP1 | NP1 left of NP2 | ...
            NP1 above NP2 | NP2 below NP1 | ... (the axis with the larger offset wins)
* count:    two|three <size> <colour> <objects> | there are ... | a group of ...

Splits: ``train`` and ``val`` never contain a held-out (object, colour) pair;
``test`` scenes each contain at least one held-out pair, so the test split
measures compositional generalisation to unseen attribute/object combinations.

The benchmark is written in COCO captions format (``annotations/captions_<split>.json``
+ ``<split>/*.jpg``) so ``read_coco_captions`` loads it like real COCO.

Example:
    >>> root = build_benchmark("/tmp/scenes", sizes={"train": 20, "val": 5, "test": 5})
    >>> examples = read_coco_captions(root, "test")   # doctest: +SKIP
"""

import hashlib
import io
import json
import os

import numpy as np
from PIL import Image, ImageFilter

from tasks.captioning.glyphs import load_atlas, plural
from tasks.core.manifest import check_split_sizes, reusable_manifest, write_manifest

COLOURS = {
    "red": (220, 45, 40),
    "green": (40, 165, 60),
    "blue": (45, 85, 225),
    "yellow": (240, 205, 40),
    "purple": (145, 60, 195),
}
SIZES = {"small": (0.20, 0.28), "large": (0.38, 0.50)}
NUMBERS = {2: "two", 3: "three"}
DEFAULT_SIZES = {"train": 16000, "val": 500, "test": 1000}
SCENE_KINDS = ("single", "relation", "count")
IMAGE_SIZE = 128
VERSION = 1


def held_out_pairs(num_objects=16):
    """The (object index, colour name) pairs only the test split contains."""
    names = list(COLOURS)
    return {(i, names[(i * 2) % len(names)]) for i in range(num_objects)}


def _background(rng, size):
    """A sky/ground scene or a textured gradient, float32 [size, size, 3] in 0..255."""
    y = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    noise = np.zeros((size, size), np.float32)
    for octave in (4, 8, 16, 32):  # value noise: sum of upsampled random grids
        grid = rng.random((octave, octave)).astype(np.float32)
        img = Image.fromarray((grid * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
        noise += np.asarray(img, np.float32) / 255.0 / (octave / 4)
    noise = (noise / noise.max())[:, :, None]
    if rng.random() < 0.6:
        sky_top = np.array([rng.uniform(90, 160), rng.uniform(150, 200), rng.uniform(210, 255)])
        sky_bottom = sky_top + rng.uniform(20, 50)
        ground = np.array([[95, 150, 60], [190, 170, 120], [120, 110, 100], [230, 230, 235]])[
            rng.integers(4)
        ].astype(np.float32)
        horizon = rng.uniform(0.45, 0.75)
        sky = sky_top * (1 - y) + sky_bottom * y
        gnd = ground * (0.75 + 0.5 * noise)
        mask = (y > horizon + 0.03 * np.sin(np.linspace(0, rng.uniform(3, 9), size))[None, :, None])
        bg = np.where(mask, gnd, sky + 20 * (noise - 0.5))
    else:
        a, b = rng.uniform(60, 240, 3), rng.uniform(60, 240, 3)
        bg = a * (1 - y) + b * y + 60 * (noise - 0.5)
    return np.clip(bg, 0, 255).astype(np.float32)


def _tint(sprite, colour):
    """Recolour an RGBA sprite, keeping its shading and outlines."""
    rgb = sprite[..., :3].astype(np.float32)
    lum = (rgb @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0
    tinted = np.array(colour, np.float32) * np.clip(0.3 + 0.9 * lum, 0, 1.15)[..., None]
    out = 0.85 * tinted + 0.15 * rgb
    return np.concatenate([np.clip(out, 0, 255), sprite[..., 3:].astype(np.float32)], -1)


def _paste(canvas, sprite, cx, cy, height):
    """Alpha-composite ``sprite`` scaled to ``height`` pixels centred at (cx, cy)."""
    h, w = sprite.shape[:2]
    new_h = max(4, int(round(height)))
    new_w = max(4, int(round(w * new_h / h)))
    img = Image.fromarray(sprite.astype(np.uint8), "RGBA").resize((new_w, new_h), Image.LANCZOS)
    spr = np.asarray(img, np.float32)
    size = canvas.shape[0]
    x0, y0 = int(round(cx - new_w / 2)), int(round(cy - new_h / 2))
    sx0, sy0 = max(0, -x0), max(0, -y0)
    x1, y1 = min(size, x0 + new_w), min(size, y0 + new_h)
    if x1 <= max(0, x0) or y1 <= max(0, y0):
        return
    part = spr[sy0 : sy0 + y1 - max(0, y0), sx0 : sx0 + x1 - max(0, x0)]
    alpha = part[..., 3:] / 255.0
    region = canvas[max(0, y0) : y1, max(0, x0) : x1]
    canvas[max(0, y0) : y1, max(0, x0) : x1] = region * (1 - alpha) + part[..., :3] * alpha


def _noun_phrase(obj):
    return f"a {obj['size']} {obj['colour']} {obj['word']}"


def _captions(kind, objects, relation):
    if kind == "single":
        o = objects[0]
        np_ = _noun_phrase(o)
        return [np_, f"there is {np_}", f"a picture of {np_}", f"{np_} in the scene",
                f"one {o['size']} {o['colour']} {o['word']}"]
    if kind == "count":
        o = objects[0]
        group = f"{NUMBERS[len(objects)]} {o['size']} {o['colour']} {plural(o['word'])}"
        return [group, f"there are {group}", f"a group of {group}", f"{group} in the scene",
                f"a picture of {group}"]
    a, b = (_noun_phrase(o) for o in objects)
    if relation == "left":
        return [f"{a} to the left of {b}", f"{b} to the right of {a}", f"{a} left of {b}",
                f"there is {a} to the left of {b}", f"{b} right of {a}"]
    return [f"{a} above {b}", f"{b} below {a}", f"{a} over {b}",
            f"there is {a} above {b}", f"{b} under {a}"]


def _sample_object(rng, num_objects, split, held_out, force_held_out):
    colours = list(COLOURS)
    while True:
        obj, colour = int(rng.integers(num_objects)), colours[rng.integers(len(colours))]
        is_held = (obj, colour) in held_out
        if split == "test" and force_held_out and not is_held:
            continue
        if split != "test" and is_held:
            continue
        return obj, colour


def make_scene(rng, atlas, split, size=IMAGE_SIZE):
    """One scene: (uint8 image [size, size, 3], captions, scene description dict)."""
    held_out = held_out_pairs(len(atlas.sprites))
    kind = SCENE_KINDS[rng.choice(3, p=[0.3, 0.45, 0.25])]
    n = {"single": 1, "relation": 2, "count": int(rng.integers(2, 4))}[kind]
    objects = []
    first = _sample_object(rng, len(atlas.sprites), split, held_out, force_held_out=True)
    size_name = list(SIZES)[rng.integers(2)]
    for i in range(n):
        if kind == "count" and i > 0:
            obj, colour = objects[0]["index"], objects[0]["colour"]
        elif i == 0:
            obj, colour = first
        else:
            obj, colour = _sample_object(rng, len(atlas.sprites), split, held_out, False)
            while obj == objects[0]["index"]:
                obj, colour = _sample_object(rng, len(atlas.sprites), split, held_out, False)
            size_name = list(SIZES)[rng.integers(2)]
        objects.append({"index": obj, "word": atlas.words[obj], "colour": colour,
                        "size": size_name})
    canvas = _background(rng, size)
    relation = None
    if kind == "single":
        lo, hi = SIZES[objects[0]["size"]]
        h = rng.uniform(lo, hi) * size
        objects[0]["box"] = (rng.uniform(h / 2, size - h / 2), rng.uniform(h / 2, size - h / 2), h)
    elif kind == "relation":
        relation = "left" if rng.random() < 0.5 else "above"
        hs = [rng.uniform(*SIZES[o["size"]]) * size for o in objects]
        gap = (hs[0] + hs[1]) / 2 * rng.uniform(0.8, 1.15)  # < 1 means partial occlusion
        c0 = rng.uniform(hs[0] / 2, size - hs[0] / 2 - gap * 0.0)
        main0 = rng.uniform(hs[0] / 2, max(hs[0] / 2 + 1, size - hs[1] / 2 - gap))
        main1 = min(main0 + gap, size - hs[1] / 2)
        cross1 = np.clip(c0 + rng.uniform(-0.25, 0.25) * gap, hs[1] / 2, size - hs[1] / 2)
        boxes = [(main0, c0), (main1, cross1)]
        if relation == "above":
            boxes = [(c, m) for m, c in boxes]
        for o, (cx, cy), h in zip(objects, boxes, hs):
            o["box"] = (cx, cy, h)
    else:
        cells = rng.permutation(9)[:n]
        for o, cell in zip(objects, cells):
            h = rng.uniform(*SIZES[o["size"]]) * size * (0.85 if o["size"] == "large" else 1.0)
            # keep every counted object fully inside the frame
            cx = np.clip((cell % 3 + 0.5 + rng.uniform(-0.15, 0.15)) * size / 3, h / 2, size - h / 2)
            cy = np.clip((cell // 3 + 0.5 + rng.uniform(-0.15, 0.15)) * size / 3, h / 2, size - h / 2)
            o["box"] = (cx, cy, h)
    draw_order = rng.permutation(len(objects))
    for j in draw_order:
        o = objects[j]
        _paste(canvas, _tint(atlas.sprites[o["index"]], COLOURS[o["colour"]]), *o["box"])
    # lighting: global gain and a directional gradient
    gain = rng.uniform(0.7, 1.25)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    light = 1 + rng.uniform(0, 0.35) * (np.cos(angle) * xx + np.sin(angle) * yy)
    canvas = np.clip(canvas * gain * light[..., None], 0, 255).astype(np.uint8)
    image = Image.fromarray(canvas)
    if rng.random() < 0.2:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    for o in objects:
        o["box"] = [round(float(v), 1) for v in o["box"]]
    scene = {"kind": kind, "relation": relation, "objects": objects}
    return np.asarray(image), _captions(kind, objects, relation), scene


def build_benchmark(root, sizes=None, seed=0, image_size=IMAGE_SIZE, progress=True):
    """Generate the benchmark under ``root`` in COCO captions format; returns ``root``.

    Deterministic in ``seed``; an existing complete build with the same manifest is
    reused (the manifest records counts and a checksum of every caption file).
    """
    from tqdm.auto import tqdm

    sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
    check_split_sizes(sizes)
    wanted = {"version": VERSION, "seed": seed, "sizes": sizes, "image_size": image_size}
    if reusable_manifest(root, wanted) is not None:
        return root
    atlas = load_atlas()
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    checksums, ann_id = {}, 0
    for split_index, (split, n) in enumerate(sorted(sizes.items())):
        os.makedirs(os.path.join(root, split), exist_ok=True)
        rng = np.random.default_rng([seed, split_index])
        images, annotations = [], []
        for i in tqdm(range(n), desc=f"scenes/{split}", disable=not progress):
            pixels, captions, scene = make_scene(rng, atlas, split, image_size)
            name = f"{split}_{i:06d}.jpg"
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, "JPEG", quality=92)
            with open(os.path.join(root, split, name), "wb") as f:
                f.write(buf.getvalue())
            images.append({"id": i, "file_name": name, "width": image_size,
                           "height": image_size, "scene": scene})
            for c in captions:
                annotations.append({"id": ann_id, "image_id": i, "caption": c})
                ann_id += 1
        payload = json.dumps({"info": {"description": f"emoji scenes {split}", "seed": seed},
                              "images": images, "annotations": annotations}).encode()
        path = os.path.join(root, "annotations", f"captions_{split}.json")
        with open(path + ".tmp", "wb") as f:
            f.write(payload)
        os.replace(path + ".tmp", path)
        checksums[split] = hashlib.sha256(payload).hexdigest()
    write_manifest(root, dict(wanted, counts={s: sizes[s] for s in sizes}, sha256=checksums,
                              held_out=sorted(f"{atlas.words[i]}/{c}" for i, c in held_out_pairs())))
    return root
