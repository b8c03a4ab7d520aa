"""The exported SavedModel serves raw bytes -> captions with core TF ops only."""

import json
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _serve(python, exported_dir, paths):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    r = subprocess.run([python, os.path.join(HERE, "stock_tf_serving.py"), exported_dir, *paths],
                       env=env, cwd="/", capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_export_serves_bytes_in_a_stock_tensorflow_env(trained_task, exported_dir, test_examples,
                                                       stock_python):
    paths = [e["image"] for e in test_examples[:5]]
    probe = subprocess.run([stock_python, "-c", "import keras_hub"], capture_output=True)
    assert probe.returncode != 0, "the stock environment must not have keras_hub"
    out = _serve(stock_python, exported_dir, paths)
    assert out["modules"] == []
    assert out["signatures"] == ["caption_pixels", "serving_default"]
    assert out["inputs"] == {"images": ["string", [None]]}
    expected = trained_task.caption([open(p, "rb").read() for p in paths])
    assert out["bytes"] == expected
    assert out["bytes_one"] == expected[:1]  # a second batch size
    # same decoder as the serving script, so both sides see identical pixels
    pixels = np.stack([tf.io.decode_image(tf.io.read_file(p), channels=3).numpy() for p in paths])
    assert out["pixels"] == trained_task.caption(pixels)


def test_export_graph_has_no_python_or_text_ops(exported_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(exported_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    ops = set()
    for meta in proto.meta_graphs:
        ops |= {n.op for n in meta.graph_def.node}
        for fn in meta.graph_def.library.function:
            ops |= {n.op for n in fn.node_def}
    assert "PyFunc" not in ops and "EagerPyFunc" not in ops
    assert not {op for op in ops if "Sentencepiece" in op or "Wordpiece" in op or op.startswith("TF")}
    assert {"DecodeImage", "While", "LookupTableFindV2"} <= ops or {"DecodeImage", "StatelessWhile"} <= ops


@pytest.mark.parametrize("damage", ["pb_cut", "pb_garbage", "variables_cut", "variables_missing"])
def test_a_damaged_export_is_a_value_error_naming_it(exported_dir, tmp_path, damage):
    import shutil

    import pipelines

    bad = shutil.copytree(exported_dir, tmp_path / "export")
    pb = bad / "saved_model.pb"
    data = pb.read_bytes()
    if damage == "pb_cut":
        pb.write_bytes(data[: len(data) // 3])
    elif damage == "pb_garbage":
        pb.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8)))
    else:
        shards = sorted((bad / "variables").glob("variables.data-*"))
        assert shards
        for shard in shards:
            if damage == "variables_cut":
                shard.write_bytes(shard.read_bytes()[:100])
            else:
                shard.unlink()
    with pytest.raises(ValueError, match="damaged SavedModel"):
        pipelines.caption(np.zeros((40, 40, 3), np.uint8), model=str(bad))
