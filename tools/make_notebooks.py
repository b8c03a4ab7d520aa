"""Regenerate notebooks/*.ipynb from the cell sources below (keeps them reviewable)."""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CAPTIONING = [
    new_markdown_cell("""# Image captioning, end to end

Build the offline emoji-scenes benchmark, train a Transformer captioner on it, evaluate
BLEU-4 / CIDEr-D / exact match on the held-out split (attribute/object combinations never
seen in training), look at where the decoder attends, and export a SavedModel that takes
raw image bytes and returns captions.

`PIPELINES_NOTEBOOK_SCALE=small` (what CI uses) shrinks data and training to seconds; the
default `full` scale uses 6,000 images and 3,000 training steps (the bundled model's recipe,
`tools/train_default_captioner.py`, uses 16,000 images and 10,000 steps)."""),
    new_code_cell("""import os, tempfile, time
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras

from tasks.captioning.benchmark import build_benchmark
from tasks.captioning.data import make_dataset, read_coco_captions
from tasks.captioning.task import CaptioningTask

SCALE = os.environ.get("PIPELINES_NOTEBOOK_SCALE", "full")
SMALL = SCALE == "small"
SIZES = {"train": 96, "val": 16, "test": 16} if SMALL else {"train": 6000, "val": 200, "test": 300}
STEPS_PER_EPOCH, EPOCHS, BATCH = (10, 2, 16) if SMALL else (500, 6, 64)
WORK = tempfile.mkdtemp(prefix="captioning_nb_")
keras.utils.set_random_seed(0)
print(SCALE, SIZES, WORK)"""),
    new_markdown_cell("## 1. Data\nThe benchmark is written in COCO captions format, so the COCO reader loads it."),
    new_code_cell("""root = build_benchmark(os.path.join(WORK, "scenes"), sizes=SIZES, seed=0)
train, val, test = (read_coco_captions(root, s) for s in ("train", "val", "test"))
fig, axes = plt.subplots(2, 4, figsize=(14, 7))
for ax, ex in zip(axes.flat, train[:4] + test[:4]):
    ax.imshow(plt.imread(ex["image"])); ax.set_title(ex["captions"][0], fontsize=8); ax.axis("off")
plt.tight_layout(); plt.show()"""),
    new_markdown_cell("## 2. Train\nAdamW with warm-up + cosine decay, through Keras `fit`."),
    new_code_cell("""config = {"decoder": "transformer"}
if SMALL:
    config.update(image_size=48, encoder_widths=[8, 16, 24],
                  decoder_options={"hidden_dim": 32, "num_layers": 1, "num_heads": 2, "intermediate_dim": 64})
task = CaptioningTask.from_examples(train, **config)
train_ds = make_dataset(train, task.preprocessor, BATCH, training=True, repeat=True)
val_ds = make_dataset(val, task.preprocessor, BATCH, training=True, shuffle_buffer=0)
task.compile(learning_rate=2e-3, total_steps=EPOCHS * STEPS_PER_EPOCH)
start = time.time()
history = task.fit(train_ds, validation_data=val_ds, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH,
                   checkpoint_dir=os.path.join(WORK, "ckpt"), verbose=2)
print(f"trained in {time.time() - start:.0f}s")
plt.plot(history.history["loss"], label="train"); plt.plot(history.history["val_loss"], label="val")
plt.xlabel("epoch"); plt.ylabel("loss"); plt.legend(); plt.show()"""),
    new_markdown_cell("## 3. Evaluate on the held-out split"),
    new_code_cell("""test_ds = make_dataset(test, task.preprocessor, 64)
for beam in (1, 3):
    scores = task.evaluate(test_ds, beam_width=beam)
    print(f"beam {beam}:", {k: round(v, 2) for k, v in scores.items() if k != "captions"})
for ex, hyp in list(zip(test, scores["captions"]))[:5]:
    print(f"{hyp!r:60}  ref: {ex['captions'][0]!r}")"""),
    new_markdown_cell("## 4. Where does the decoder look?\nCross-attention of the last decoder block, per generated word."),
    new_code_cell("""image = open(test[0]["image"], "rb").read()
caption = task.caption([image], beam_width=1)[0]
pixels = task.preprocessor.image_preprocessor(tf.constant([image]))
grid = task.model.get_layer("image_encoder")(pixels)
tokens = task.preprocessor.tokenizer(tf.constant([caption]))[:, :-1]
words = ["<start>"] + caption.split()
maps = task.model.get_layer("decoder").cross_attention_maps(tokens, grid).numpy()[0].mean(0)
side = grid.shape[1]
fig, axes = plt.subplots(1, len(words), figsize=(2.2 * len(words), 2.6))
for i, ax in enumerate(np.atleast_1d(axes)):
    heat = tf.image.resize(maps[i].reshape(side, side, 1), pixels.shape[1:3]).numpy()[..., 0]
    ax.imshow(pixels[0]); ax.imshow(heat, alpha=0.5, cmap="jet"); ax.axis("off")
    ax.set_title(f"next after '{words[i]}'", fontsize=8)
plt.tight_layout(); plt.show()
print(caption)"""),
    new_markdown_cell("## 5. One-call inference with the bundled default model"),
    new_code_cell("""import glob
import pipelines
samples = sorted(glob.glob(os.path.join(os.path.dirname(pipelines.__file__), "samples", "*.jpg")))
for path, text in zip(samples, pipelines.caption(samples)):
    print(os.path.basename(path), "->", text)"""),
    new_markdown_cell("## 6. Export for TF Serving and reload\nThe SavedModel takes encoded image bytes and returns strings; decoding runs inside the graph."),
    new_code_cell("""export_dir = task.export(os.path.join(WORK, "export"))
served = tf.saved_model.load(export_dir).signatures["serving_default"]
batch = [open(ex["image"], "rb").read() for ex in test[:4]]
served_captions = [s.decode() for s in served(images=tf.constant(batch))["captions"].numpy()]
assert served_captions == task.caption(batch), (served_captions, task.caption(batch))
served_captions"""),
]


def main():
    nb = new_notebook(cells=CAPTIONING, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}})
    os.makedirs(os.path.join(ROOT, "notebooks"), exist_ok=True)
    nbformat.write(nb, os.path.join(ROOT, "notebooks", "image_captioning.ipynb"))


if __name__ == "__main__":
    main()
