"""The exported SavedModel serves raw bytes -> captions with core TF ops only."""

import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf


def test_export_serves_bytes_in_a_stock_tensorflow_env(trained_task, exported_dir, test_examples,
                                                       stock_python, stock_tf):
    paths = [e["image"] for e in test_examples[:5]]
    probe = subprocess.run([stock_python, "-c", "import keras_hub"], capture_output=True)
    assert probe.returncode != 0, "the stock environment must not have keras_hub"
    out = stock_tf.serve(exported_dir, *paths)
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


def test_the_stock_process_reports_a_failed_request_and_keeps_serving(stock_tf):
    # the stock-environment checks share one process: a request's error must reach its
    # test (with the traceback) and leave the process serving the next one
    for _ in range(2):
        with pytest.raises(AssertionError, match="does not exist at: /nonexistent/model"):
            stock_tf.serve("--speech", "/nonexistent/model", "a.wav")
