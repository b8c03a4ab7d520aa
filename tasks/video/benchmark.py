"""The built-in offline video benchmark ("emoji events").

Short clips in which the captioning benchmark's emoji objects (``captioning/glyphs.py``)
act out a script of two or three events, one after another: an object **enters** from a
side, **leaves** to a side, **moves** left or right, **jumps**, **grows**, **turns** another
colour, or two objects **collide**. The camera pans and zooms over a textured background
and may shake; some clips are blurred, the lighting drifts, and there is sensor noise.

Every clip comes with
* a label for every frame: the event under way, or ``none`` between events, written as
  segments (``clip,start,end,label`` in seconds);
* captions that keep the temporal order: "a red car enters from the left, then a blue dog
  jumps" (two wordings per clip; an object is "a <colour> <object>" when first named and
  "the <object>" after).

Splits: ``train`` and ``val`` never hold a held-out (object, event) pair or a held-out
order of two consecutive events; every ``test`` clip holds at least one, so the test split
measures generalisation to combinations and orders never seen in training.

The layout is the one :mod:`tasks.video.readers` reads: ``videos/<split>/<id>.mp4``,
``annotations/captions_<split>.json`` (MSR-VTT form) and ``annotations/segments_<split>.csv``.
Everything is a pure function of ``seed``.

Example:
    >>> root = build_benchmark("/tmp/events", sizes={"train": 20, "val": 4, "test": 4})
    >>> examples = read_benchmark(root, "test")
"""

import csv
import hashlib
import io
import json
import os

import numpy as np
from PIL import Image, ImageFilter

from tasks.captioning.benchmark import COLOURS, _background, _paste, _tint
from tasks.captioning.glyphs import load_atlas
from tasks.core.manifest import check_split_sizes, reusable_manifest, write_manifest
from tasks.video.io import write_video
from tasks.video.readers import BACKGROUND, read_annotated_videos

EVENTS = ("enter", "leave", "move", "jump", "grow", "turn", "collide")
LABELS = (BACKGROUND,) + EVENTS
FPS = 8
CLIP_FRAMES = 32
FRAME_SIZE = 64
DEFAULT_SIZES = {"train": 4000, "val": 200, "test": 400}
# Consecutive event pairs that only the test split shows.
HELD_OUT_ORDERS = frozenset({("jump", "turn"), ("grow", "move"), ("turn", "collide")})
VERSION = 1
_GROUND = 0.62  # object centre height, as a fraction of the frame
_SLOTS = (0.2, 0.8)  # where objects stand, as fractions of the width


def held_out_pairs(num_objects=16):
    """The (object index, event) pairs only the test split contains."""
    return frozenset((i, EVENTS[(i * 3) % len(EVENTS)]) for i in range(num_objects))


def _smooth(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


class _Actor:
    def __init__(self, obj, word, colour, height, slot, on_stage):
        self.obj, self.word, self.colour, self.height = obj, word, colour, height
        self.slot, self.on_stage, self.named = slot, on_stage, False

    def phrase(self):
        if self.named:
            return f"the {self.word}"
        self.named = True
        return f"a {self.colour} {self.word}"


def _plan(rng, atlas_words):
    """A feasible random script: ``(actors, events)``, events being ``(name, actor
    indices, first frame, end frame, params)``; params hold the sides, colours and
    the positions each event leaves its actors at."""
    n_actors = 1 if rng.random() < 0.45 else 2
    objects = rng.choice(len(atlas_words), size=n_actors, replace=False)
    colours = list(COLOURS)
    slots = _SLOTS if n_actors == 2 else (0.5,)
    # Where each actor may stand, so two actors never overlap except when colliding.
    ranges = ((0.04, 0.36), (0.64, 0.96)) if n_actors == 2 else ((0.2, 0.8),)
    actors = [_Actor(int(obj), atlas_words[obj], colours[rng.integers(len(colours))],
                     rng.uniform(0.26, 0.32), slots[k], bool(rng.random() < 0.6))
              for k, obj in enumerate(objects)]
    x = [a.slot if a.on_stage else None for a in actors]
    scale = [1.0] * n_actors
    colour = [a.colour for a in actors]
    n_events = 2 if rng.random() < 0.5 else 3
    events, frame = [], int(rng.integers(0, 3))
    for _ in range(n_events):
        length = int(rng.integers(6, 9))
        if frame + length > CLIP_FRAMES:
            break
        options = []
        for a in range(n_actors):
            if x[a] is None:
                options.append(("enter", (a,)))
                continue
            options += [("leave", (a,)), ("move", (a,)), ("jump", (a,)), ("turn", (a,))]
            if scale[a] < 1.5:
                options.append(("grow", (a,)))
        if n_actors == 2 and None not in x:
            options.append(("collide", (0, 1)))
        name, who = options[rng.integers(len(options))]
        a = who[0]
        params = {}
        if name in ("enter", "leave"):
            side = "left" if actors[a].slot < 0.5 else "right"
            params["side"] = side if n_actors == 2 else ("left", "right")[rng.integers(2)]
            x[a] = actors[a].slot if name == "enter" else None
        elif name == "move":
            lo, hi = ranges[a]
            step = 0.16 if n_actors == 2 else 0.22
            sides = [side for side, to in (("left", x[a] - step), ("right", x[a] + step))
                     if lo - 1e-6 <= to <= hi + 1e-6]
            if not sides:  # narrow range: go to its other end
                sides = ["left" if x[a] > (lo + hi) / 2 else "right"]
                params["to"] = lo if sides[0] == "left" else hi
            params["side"] = sides[rng.integers(len(sides))]
            params.setdefault("to", x[a] + (-step if params["side"] == "left" else step))
            x[a] = params["to"]
        elif name == "grow":
            scale[a] *= 1.6
        elif name == "turn":
            params["colour"] = [c for c in colours if c != colour[a]][rng.integers(len(colours) - 1)]
            colour[a] = params["colour"]
        elif name == "collide":
            # They meet where their edges touch, then bounce back a little.
            half = (actors[0].height * scale[0] + actors[1].height * scale[1]) / 4
            params["meet"] = (0.5 - half, 0.5 + half)
            params["to"] = (0.5 - half - 0.1, 0.5 + half + 0.1)
            x = list(params["to"])
        events.append((name, who, frame, frame + length, params))
        frame += length + int(rng.integers(1, 4))
    return actors, events


def _combinations(actors, events):
    """The (object, event) pairs and consecutive event orders a script shows."""
    pairs = {(actors[a].obj, name) for name, who, *_ in events for a in who}
    orders = {(events[i][0], events[i + 1][0]) for i in range(len(events) - 1)}
    return pairs, orders


def _animate(actors, events):
    """Per-frame state of every actor: ``x`` (NaN off stage), jump offset ``dy``,
    ``scale``, and a colour blend ``colour_from`` -> ``colour_to`` by ``blend``."""
    n = CLIP_FRAMES
    state = [{"x": np.full(n, np.nan), "dy": np.zeros(n), "scale": np.ones(n),
              "colour_from": [a.colour] * n, "colour_to": [a.colour] * n, "blend": np.zeros(n)}
             for a in actors]
    current = [{"x": a.slot if a.on_stage else np.nan, "scale": 1.0, "colour": a.colour}
               for a in actors]

    def hold(i, f0, f1):
        state[i]["x"][f0:f1] = current[i]["x"]
        state[i]["scale"][f0:f1] = current[i]["scale"]
        state[i]["colour_from"][f0:f1] = state[i]["colour_to"][f0:f1] = [current[i]["colour"]] * (f1 - f0)

    cursor = 0
    for name, who, f0, f1, params in events:
        for i in range(len(actors)):
            hold(i, cursor, f1)  # then overwrite the event's actors below
        u = _smooth((np.arange(f0, f1) - f0 + 1) / (f1 - f0))
        for k, i in enumerate(who):
            cur, s = current[i], state[i]
            x0 = cur["x"]
            if name in ("enter", "leave"):
                off = -0.35 if params["side"] == "left" else 1.35
                start, end = (off, actors[i].slot) if name == "enter" else (x0, off)
                s["x"][f0:f1] = start + (end - start) * u
                cur["x"] = actors[i].slot if name == "enter" else np.nan
            elif name == "move":
                s["x"][f0:f1] = x0 + (params["to"] - x0) * u
                cur["x"] = params["to"]
            elif name == "jump":
                s["dy"][f0:f1] = -0.3 * np.sin(np.pi * u)
            elif name == "grow":
                s["scale"][f0:f1] = cur["scale"] * (1 + 0.6 * u)
                cur["scale"] *= 1.6
            elif name == "turn":
                s["colour_to"][f0:f1] = [params["colour"]] * (f1 - f0)
                s["blend"][f0:f1] = u
                cur["colour"] = params["colour"]
            elif name == "collide":
                meet, to = params["meet"][k], params["to"][k]
                hit = np.minimum(u / 0.6, 1.0)
                back = np.clip((u - 0.6) / 0.4, 0, 1)
                s["x"][f0:f1] = x0 + (meet - x0) * hit + (to - meet) * back
                cur["x"] = to
        cursor = f1
    for i in range(len(actors)):
        hold(i, cursor, n)
    return state


def _clauses(actors, events):
    clauses = []
    for name, who, _, _, params in events:
        subject = actors[who[0]].phrase()
        if name == "enter":
            clauses.append(f"{subject} enters from the {params['side']}")
        elif name == "leave":
            clauses.append(f"{subject} leaves to the {params['side']}")
        elif name == "move":
            clauses.append(f"{subject} moves to the {params['side']}")
        elif name == "turn":
            clauses.append(f"{subject} turns {params['colour']}")
        elif name == "collide":
            clauses.append(f"{subject} and {actors[who[1]].phrase()} collide")
        else:
            clauses.append(f"{subject} {name}s")
    return clauses


def _render(rng, atlas, actors, state, size):
    """The clip's frames, uint8 [CLIP_FRAMES, size, size, 3]."""
    big = int(size * 1.6)
    background = Image.fromarray(_background(rng, big).astype(np.uint8))
    zoom0, zoom1 = rng.uniform(1.0, 1.25, 2) if rng.random() < 0.6 else (1.0, 1.0)
    margin = big - size * 1.0
    pan = rng.uniform(0, margin, (2, 2))  # start and end of the camera's top-left corner
    shake = rng.uniform(0, 1.5) if rng.random() < 0.4 else 0.0
    blur = rng.uniform(0.4, 0.9) if rng.random() < 0.3 else 0.0
    light0, light1 = rng.uniform(0.75, 1.2, 2)
    tinted = {}
    frames = np.empty([CLIP_FRAMES, size, size, 3], np.uint8)
    for f in range(CLIP_FRAMES):
        u = f / (CLIP_FRAMES - 1)
        view = size / (zoom0 + (zoom1 - zoom0) * u)
        x0, y0 = pan[0] + (pan[1] - pan[0]) * u + rng.normal(0, shake, 2)
        x0 = float(np.clip(x0, 0, big - view))
        y0 = float(np.clip(y0, 0, big - view))
        canvas = np.asarray(background.resize((size, size), Image.BILINEAR,
                                              box=(x0, y0, x0 + view, y0 + view)), np.float32).copy()
        for actor, s in zip(actors, state):
            if np.isnan(s["x"][f]):
                continue
            sprite = atlas.sprites[actor.obj]
            pair = (actor.obj, s["colour_from"][f], s["colour_to"][f], round(float(s["blend"][f]), 2))
            if pair not in tinted:
                a = _tint(sprite, COLOURS[pair[1]])
                b = _tint(sprite, COLOURS[pair[2]])
                tinted[pair] = a * (1 - pair[3]) + b * pair[3]
            height = actor.height * s["scale"][f] * size
            _paste(canvas, tinted[pair], s["x"][f] * size, (_GROUND + s["dy"][f]) * size, height)
        canvas *= light0 + (light1 - light0) * u
        canvas += rng.normal(0, 2.0, canvas.shape)
        image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
        if blur:
            image = image.filter(ImageFilter.GaussianBlur(blur))
        frames[f] = np.asarray(image)
    return frames


def make_clip(rng, atlas, split, size=FRAME_SIZE):
    """One clip: ``(frames uint8 [T, size, size, 3], captions, segments, script)``."""
    held_pairs = held_out_pairs(len(atlas.words))
    while True:
        actors, events = _plan(rng, atlas.words)
        if len(events) < 2:
            continue
        pairs, orders = _combinations(actors, events)
        held = bool(pairs & held_pairs or orders & HELD_OUT_ORDERS)
        if held == (split == "test"):
            break
    state = _animate(actors, events)
    clauses = _clauses(actors, events)
    captions = [", then ".join(clauses), ", and then ".join(clauses)]
    segments = [(f0 / FPS, f1 / FPS, name) for name, _, f0, f1, _ in events]
    script = {"objects": [a.word for a in actors],
              "events": [{"event": name, "objects": [actors[a].word for a in who],
                          "start_frame": f0, "end_frame": f1, **params}
                         for name, who, f0, f1, params in events]}
    return _render(rng, atlas, actors, state, size), captions, segments, script


def build_benchmark(root, sizes=None, seed=0, frame_size=FRAME_SIZE, progress=True):
    """Generate the benchmark under ``root``; returns ``root``.

    Deterministic in ``seed``; an existing complete build with the same manifest is
    reused (the manifest records counts and a checksum of every annotation file).
    """
    from tqdm.auto import tqdm

    sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
    check_split_sizes(sizes)
    if not isinstance(frame_size, int) or frame_size < 16 or frame_size % 2:
        raise ValueError(f"frame_size must be an even int >= 16, got {frame_size!r}")
    wanted = {"version": VERSION, "seed": seed, "sizes": sizes, "frame_size": frame_size,
              "fps": FPS, "clip_frames": CLIP_FRAMES}
    if reusable_manifest(root, wanted) is not None:
        return root
    atlas = load_atlas()
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    checksums = {}
    for split_index, (split, n) in enumerate(sorted(sizes.items())):
        video_dir = os.path.join(root, "videos", split)
        os.makedirs(video_dir, exist_ok=True)
        rng = np.random.default_rng([seed, split_index])
        videos, sentences, rows = [], [], []
        for i in tqdm(range(n), desc=f"clips/{split}", disable=not progress):
            frames, captions, segments, script = make_clip(rng, atlas, split, frame_size)
            clip = f"{split}_{i:05d}"
            write_video(os.path.join(video_dir, clip + ".mp4"), frames, FPS, quality=18)
            videos.append({"video_id": clip, "split": split, "id": i, "script": script})
            sentences += [{"video_id": clip, "caption": c, "sen_id": len(sentences) + k}
                          for k, c in enumerate(captions)]
            rows += [(clip, f"{start:.3f}", f"{end:.3f}", label) for start, end, label in segments]
        payload = json.dumps({"info": {"description": f"emoji events {split}", "seed": seed},
                              "videos": videos, "sentences": sentences}).encode()
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["clip", "start", "end", "label"])
        writer.writerows(rows)
        for name, data in ((f"captions_{split}.json", payload),
                           (f"segments_{split}.csv", table.getvalue().encode())):
            path = os.path.join(root, "annotations", name)
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.replace(path + ".tmp", path)
            checksums[name] = hashlib.sha256(data).hexdigest()
    write_manifest(root, dict(
        wanted, counts=dict(sizes), sha256=checksums, labels=list(LABELS),
        held_out_pairs=sorted(f"{atlas.words[i]}/{e}" for i, e in held_out_pairs(len(atlas.words))),
        held_out_orders=sorted("/".join(o) for o in HELD_OUT_ORDERS),
        sources={"objects": "Noto Color Emoji glyphs (SIL Open Font License 1.1), via "
                            "tasks/captioning/assets", "backgrounds": "generated value noise"}))
    return root


def read_benchmark(root, split):
    """The split's examples (:func:`tasks.video.readers.read_annotated_videos`)."""
    return read_annotated_videos(os.path.join(root, "videos", split),
                                 captions=os.path.join(root, "annotations", f"captions_{split}.json"),
                                 segments=os.path.join(root, "annotations", f"segments_{split}.csv"),
                                 split=split)


__all__ = ["build_benchmark", "read_benchmark", "make_clip", "held_out_pairs", "EVENTS",
           "LABELS", "FPS", "CLIP_FRAMES", "FRAME_SIZE", "HELD_OUT_ORDERS"]
