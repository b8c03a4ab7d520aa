"""Readers (COCO, Flickr), the built-in benchmark and the tf.data pipeline."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from tasks.captioning.benchmark import COLOURS, build_benchmark, held_out_pairs, make_scene
from tasks.captioning.data import make_dataset, read_coco_captions, read_flickr_captions
from tasks.captioning.glyphs import caption_word, load_atlas, plural


def _write_jpeg(path, colour=(200, 30, 30)):
    Image.new("RGB", (20, 16), colour).save(path)


def test_coco_reader_on_real_layout(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "val2017").mkdir()
    _write_jpeg(tmp_path / "val2017" / "000000000139.jpg")
    _write_jpeg(tmp_path / "val2017" / "000000000285.jpg")
    coco = {"info": {}, "licenses": [],
            "images": [{"id": 285, "file_name": "000000000285.jpg", "height": 16, "width": 20},
                       {"id": 139, "file_name": "000000000139.jpg", "height": 16, "width": 20},
                       {"id": 7, "file_name": "no_captions.jpg", "height": 1, "width": 1}],
            "annotations": [{"id": 1, "image_id": 139, "caption": "A man in a room. "},
                            {"id": 2, "image_id": 285, "caption": "A big bear."},
                            {"id": 3, "image_id": 139, "caption": "A living room."}]}
    (tmp_path / "annotations" / "captions_val2017.json").write_text(json.dumps(coco))
    examples = read_coco_captions(str(tmp_path), "val2017")
    assert [e["id"] for e in examples] == [139, 285]
    assert examples[0]["captions"] == ["A man in a room.", "A living room."]
    assert examples[0]["image"].endswith(os.path.join("val2017", "000000000139.jpg"))


def test_coco_reader_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_coco_captions(str(tmp_path), "train2017")
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "captions_x.json").write_text("{}")
    with pytest.raises(ValueError, match="not COCO captions"):
        read_coco_captions(str(tmp_path), "x")


def test_flickr_token_reader(tmp_path):
    token = tmp_path / "Flickr8k.token.txt"
    token.write_text("1000268201_693b08cb0e.jpg#0\tA child in a pink dress .\n"
                     "1000268201_693b08cb0e.jpg#1\tA girl going into a wooden building .\n"
                     "1001773457_577c3a7d70.jpg#0\tA black dog and a spotted dog are fighting\n\n")
    examples = read_flickr_captions(str(token), str(tmp_path / "Images"))
    assert [e["id"] for e in examples] == ["1000268201_693b08cb0e.jpg", "1001773457_577c3a7d70.jpg"]
    assert len(examples[0]["captions"]) == 2
    only = read_flickr_captions(str(token), str(tmp_path), image_names=["1001773457_577c3a7d70.jpg"])
    assert len(only) == 1
    token.write_text("no tab here\n")
    with pytest.raises(ValueError, match="expected 'image.jpg#N<TAB>caption'"):
        read_flickr_captions(str(token), str(tmp_path))
    with pytest.raises(ValueError, match="does not exist"):
        read_flickr_captions(str(tmp_path / "missing.txt"), str(tmp_path))


def test_glyph_words_come_from_unicode_names():
    assert caption_word("\U0001F333") == "tree"          # DECIDUOUS TREE
    assert caption_word("\U0001F697") == "car"           # AUTOMOBILE (override)
    assert plural("bus") == "buses" and plural("dog") == "dogs"
    atlas = load_atlas()
    assert len(atlas.sprites) == len(atlas.words) == 16
    assert all(s.shape[-1] == 4 and s[..., 3].max() == 255 for s in atlas.sprites)


def test_scene_generation_is_deterministic_and_captions_describe_it():
    atlas = load_atlas()
    a = make_scene(np.random.default_rng(5), atlas, "train")
    b = make_scene(np.random.default_rng(5), atlas, "train")
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    for seed in range(30):
        pixels, captions, scene = make_scene(np.random.default_rng(seed), atlas, "train")
        assert pixels.shape == (128, 128, 3) and pixels.dtype == np.uint8
        assert len(captions) == 5 and len(set(captions)) == 5
        for obj in scene["objects"]:
            assert obj["colour"] in captions[0] and obj["size"] in captions[0]
        if scene["kind"] == "relation":
            (ax, ay, _), (bx, by, _) = (o["box"] for o in scene["objects"])
            if scene["relation"] == "left":
                assert ax < bx
            else:
                assert ay < by


def test_benchmark_build_is_reproducible_and_resumable(tmp_path):
    sizes = {"train": 6, "val": 2, "test": 3}
    root1 = build_benchmark(str(tmp_path / "a"), sizes, seed=1, progress=False)
    root2 = build_benchmark(str(tmp_path / "b"), sizes, seed=1, progress=False)
    m1 = json.load(open(os.path.join(root1, "manifest.json")))
    m2 = json.load(open(os.path.join(root2, "manifest.json")))
    assert m1["sha256"] == m2["sha256"] and m1["counts"] == sizes
    with open(os.path.join(root1, "train", "train_000000.jpg"), "rb") as f1, \
            open(os.path.join(root2, "train", "train_000000.jpg"), "rb") as f2:
        assert f1.read() == f2.read()
    stamp = os.path.getmtime(os.path.join(root1, "annotations", "captions_train.json"))
    build_benchmark(root1, sizes, seed=1, progress=False)  # complete build: reused
    assert os.path.getmtime(os.path.join(root1, "annotations", "captions_train.json")) == stamp
    with pytest.raises(ValueError, match="unknown split"):
        build_benchmark(str(tmp_path / "c"), {"dev": 3}, progress=False)


def test_held_out_split_has_no_leakage(scenes_root):
    held = set(json.load(open(os.path.join(scenes_root, "manifest.json")))["held_out"])
    assert len(held_out_pairs()) == 16 and len(held) == 16
    for split in ("train", "val", "test"):
        images = json.load(open(os.path.join(scenes_root, "annotations", f"captions_{split}.json")))["images"]
        for image in images:
            pairs = {f"{o['word']}/{o['colour']}" for o in image["scene"]["objects"]}
            if split == "test":
                assert pairs & held, image
            else:
                assert not pairs & held, image
    assert all(c in COLOURS for c in ("red", "green", "blue", "yellow", "purple"))


def test_training_pipeline_shapes_and_determinism(scenes_root, train_examples):
    from conftest import tiny_task

    task = tiny_task(train_examples)
    ds = make_dataset(train_examples, task.preprocessor, 16, training=True, seed=7, repeat=True)
    features, labels = next(iter(ds))
    assert features["images"].shape == (16, 48, 48, 3)
    assert features["tokens"].shape == (16, 15) and labels.shape == (16, 15)
    assert float(features["images"].numpy().max()) <= 1.0
    np.testing.assert_array_equal(features["tokens"][:, 1:], labels[:, :-1])
    first, again = (make_dataset(train_examples, task.preprocessor, 16, training=True, seed=7,
                                 repeat=True) for _ in range(2))
    for (f1, l1), (f2, l2) in zip(first.take(3), again.take(3)):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(f1["images"], f2["images"])
    # every (image, caption) pair appears exactly once per pass
    once = make_dataset(train_examples, task.preprocessor, 64, training=True, shuffle_buffer=0)
    assert sum(int(l.shape[0]) for _, l in once) == sum(len(e["captions"]) for e in train_examples)


def test_eval_pipeline_pads_references(test_examples, trained_task):
    ds = make_dataset(test_examples, trained_task.preprocessor, 5)
    pixels, refs = next(iter(ds))
    assert pixels.shape[0] == 5 and refs.shape == (5, 5)
    with pytest.raises(ValueError, match="empty"):
        make_dataset([], trained_task.preprocessor)


def test_augmentation_is_seeded_and_photometric_only(train_examples):
    from conftest import tiny_task

    task = tiny_task(train_examples)
    make = lambda aug, seed=3: make_dataset(train_examples, task.preprocessor, 8, training=True,  # noqa: E731
                                            seed=seed, shuffle_buffer=0, augment=aug)
    (plain, labels), (aug1, labels1), (aug2, _) = (next(iter(make(a))) for a in (False, True, True))
    np.testing.assert_array_equal(labels, labels1)            # captions untouched
    np.testing.assert_array_equal(aug1["images"], aug2["images"])  # reproducible
    diff = np.abs(aug1["images"].numpy() - plain["images"].numpy())
    assert diff.max() > 0.01
    assert aug1["images"].numpy().min() >= 0 and aug1["images"].numpy().max() <= 1
