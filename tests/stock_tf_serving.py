"""Run an exported SavedModel the way a stock TF Serving environment would.

Executed by a Python whose environment has only ``tensorflow`` (and what pip brings
with it): no keras_hub, no tensorflow_text, not this project. Prints JSON.

    python stock_tf_serving.py SAVEDMODEL IMAGE [IMAGE ...]      # a captioner
    python stock_tf_serving.py --speech SAVEDMODEL WAV [WAV ...]  # a recognizer
    python stock_tf_serving.py --translation SAVEDMODEL TEXT [TEXT ...]  # a translator
    python stock_tf_serving.py --style SAVEDMODEL OUT_DIR IMAGE [IMAGE ...] [--styles STYLE ...]
        # a style network (with --styles: the arbitrary one); writes OUT_DIR/<i>.png
    python stock_tf_serving.py --video SAVEDMODEL FRAMES.npy LENGTH [LENGTH ...]  # an annotator
    python stock_tf_serving.py --serve   # many requests, one JSON argument list a line
"""

import json
import sys

import tensorflow as tf

OURS = ("keras_hub", "keras_nlp", "tensorflow_text", "tasks", "pipelines")


def main(path, images):
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    data = [tf.io.read_file(p) for p in images]
    out = {"signatures": sorted(loaded.signatures.keys()),
           "inputs": {k: [v.dtype.name, v.shape.as_list()]
                      for k, v in serve.structured_input_signature[1].items()}}
    out["bytes"] = [s.decode() for s in serve(images=tf.stack(data))["captions"].numpy()]
    out["bytes_one"] = [s.decode() for s in serve(images=tf.stack(data[:1]))["captions"].numpy()]
    pixels = tf.stack([tf.cast(tf.io.decode_image(d, channels=3), tf.float32) for d in data])
    out["pixels"] = [s.decode() for s in
                     loaded.signatures["caption_pixels"](pixels=pixels)["captions"].numpy()]
    out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in OURS)
    print(json.dumps(out))


def speech(path, wavs):
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    data = tf.stack([tf.io.read_file(p) for p in wavs])
    out = {"signatures": sorted(loaded.signatures.keys()),
           "inputs": {k: [v.dtype.name, v.shape.as_list()]
                      for k, v in serve.structured_input_signature[1].items()}}
    out["bytes"] = [s.decode() for s in serve(audio=data)["transcripts"].numpy()]
    out["bytes_one"] = [s.decode() for s in serve(audio=data[:1])["transcripts"].numpy()]
    out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in OURS)
    print(json.dumps(out))


def translation(path, texts):
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    out = {"signatures": sorted(loaded.signatures.keys()),
           "inputs": {k: [v.dtype.name, v.shape.as_list()]
                      for k, v in serve.structured_input_signature[1].items()}}
    out["batch"] = [s.decode() for s in serve(texts=tf.constant(texts))["translations"].numpy()]
    out["one"] = [s.decode() for s in serve(texts=tf.constant(texts[:1]))["translations"].numpy()]
    out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in OURS)
    print(json.dumps(out))


def style(path, out_dir, images, styles):
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    out = {"signatures": sorted(loaded.signatures.keys()),
           "inputs": {k: [v.dtype.name, v.shape.as_list()]
                      for k, v in serve.structured_input_signature[1].items()}}
    inputs = {"images": tf.stack([tf.io.read_file(p) for p in images])}
    if styles:
        inputs["styles"] = tf.stack([tf.io.read_file(p) for p in styles])
        inputs["strength"] = tf.ones([len(images)])
    out["outputs"] = []
    for i, png in enumerate(serve(**inputs)["images"].numpy()):
        out["outputs"].append(f"{out_dir}/{i}.png")
        tf.io.write_file(out["outputs"][-1], png)
    out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in OURS)
    print(json.dumps(out))


def video(path, frames_file, lengths):
    import numpy as np

    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    frames = tf.constant(np.load(frames_file))
    lengths = tf.constant([int(n) for n in lengths], tf.int32)
    out = {"signatures": sorted(loaded.signatures.keys()),
           "inputs": {k: [v.dtype.name, v.shape.as_list()]
                      for k, v in serve.structured_input_signature[1].items()},
           "metadata": {k: v.numpy().item() for k, v in loaded.signatures["metadata"]().items()}}
    batch = serve(frames=frames, lengths=lengths)
    out["captions"] = [s.decode() for s in batch["captions"].numpy()]
    out["labels"] = [[s.decode() for s in row] for row in batch["labels"].numpy()]
    one = serve(frames=frames[:1, : lengths[0]], lengths=lengths[:1])
    out["one"] = [s.decode() for s in one["captions"].numpy()]
    out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in OURS)
    print(json.dumps(out))


def run(argv):
    """One request: ``argv`` as the command line above takes it (without the script)."""
    if argv[0] == "--video":
        video(argv[1], argv[2], argv[3:])
    elif argv[0] == "--speech":
        speech(argv[1], argv[2:])
    elif argv[0] == "--style":
        args = argv[3:]
        cut = args.index("--styles") if "--styles" in args else len(args)
        style(argv[1], argv[2], args[:cut], args[cut + 1:])
    elif argv[0] == "--translation":
        translation(argv[1], argv[2:])
    else:
        main(argv[0], argv[1:])


def serve_forever():
    """``--serve``: one JSON list of arguments a line on stdin, one JSON line back on stdout
    (``returncode``, ``stdout``, ``stderr``), so that a test session pays TensorFlow's import
    once instead of once a request."""
    import contextlib
    import io
    import traceback

    for line in sys.stdin:
        out, err, code = io.StringIO(), io.StringIO(), 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                run(json.loads(line))
            except BaseException:  # reported to the caller, which fails the test with it
                traceback.print_exc()
                code = 1
        sys.__stdout__.write(json.dumps({"returncode": code, "stdout": out.getvalue(),
                                         "stderr": err.getvalue()}) + "\n")
        sys.__stdout__.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve_forever()
    else:
        run(sys.argv[1:])
