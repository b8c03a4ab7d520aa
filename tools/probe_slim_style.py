"""Probe: distil a bundled fast style network into a slim one, for the 1,000x speed target.

    python tools/probe_slim_style.py --style composition_viii --steps 1500 --eval 2 \
        --out runs/slim_probe/student --results runs/slim_probe/results.json

The student works at 1/4 resolution after a space-to-depth (64 filters, 4 separable
residual blocks with instance normalisation as one fused batch-norm op per image), comes back
with two resize-convolutions, and adds its change to the teacher's AdaIN-recoloured pixels
(the teacher's ``adain_pixels`` weights). It is trained on the L1 distance to the teacher's
output on 256-pixel crops of the built-in photographs (``--perceptual-weight`` adds the
style + content + TV loss the teacher was trained on; ``--init`` continues a student), then timed at 256² beside the teacher
and scored against Gatys at 512² like the bundled networks (README, "Fast style transfer").
A probe, not a recipe: its result decides whether the architecture earns a place in
``tasks/style_transfer``.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers as L  # noqa: E402

from tasks.core.task import Task  # noqa: E402
from tasks.style_transfer.model import ReflectPad, CropLike, ResidualLogits  # noqa: E402
from tasks.style_transfer.adain import FixedInstanceNorm  # noqa: E402
from tasks.style_transfer.data import make_dataset, train_images  # noqa: E402
from tasks.style_transfer.evaluation import evaluate_against_optimization  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--style", default="composition_viii")
ap.add_argument("--steps", type=int, default=1500)
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--size", type=int, default=256)
ap.add_argument("--width", type=int, default=64)
ap.add_argument("--blocks", type=int, default=4)
ap.add_argument("--mid", type=int, default=32)
ap.add_argument("--full", type=int, default=8)
ap.add_argument("--norm", default="fbn")
ap.add_argument("--lr", type=float, default=2e-3)
ap.add_argument("--l1-weight", type=float, default=1.0, help="L1 distance to the teacher's output")
ap.add_argument("--perceptual-weight", type=float, default=0.0,
                help="the style + content + TV loss the teacher was trained on")
ap.add_argument("--init", default=None, help="start from these student weights (.weights.h5)")
ap.add_argument("--out", default="runs/slim_probe/student")
ap.add_argument("--data-dir", default=os.path.join(ROOT, "data", "style"))
ap.add_argument("--results", default=None)
ap.add_argument("--eval", type=int, default=2)
ap.add_argument("--eval-only", action="store_true")
args = ap.parse_args()

class InstanceNorm(L.Layer):
    def build(self, s):
        self.g = self.add_weight(shape=(s[-1],), initializer="ones", name="gamma")
        self.b = self.add_weight(shape=(s[-1],), initializer="zeros", name="beta")
    def call(self, x):
        n, h, w, c = tf.unstack(tf.shape(x))
        y = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c])
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(y, tf.tile(self.g, [n]), tf.tile(self.b, [n]),
                                                   epsilon=1e-5, is_training=True)
        return tf.transpose(tf.reshape(y, [h, w, n, c]), [2, 0, 1, 3])

def norm(x):
    return InstanceNorm()(x) if args.norm == "fbn" else (L.GroupNormalization(groups=-1, epsilon=1e-5)(x) if args.norm == "gn" else x)

def build(width, blocks, mid, full, border=8):
    inp = keras.Input((None, None, 3))
    recoloured = FixedInstanceNorm(name="adain_pixels")(inp)
    x = ReflectPad(border, 4)(inp)
    x = L.Lambda(lambda t: tf.nn.space_to_depth(t, 4))(x)
    x = L.ReLU()(norm(L.Conv2D(width, 3, padding="same", use_bias=False)(x)))
    for _ in range(blocks):
        y = L.ReLU()(norm(L.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)))
        y = norm(L.SeparableConv2D(width, 3, padding="same", use_bias=False)(y))
        x = L.Add()([x, y])
    x = L.UpSampling2D(2)(x)
    x = L.SeparableConv2D(mid, 3, padding="same", activation="relu")(x)
    x = L.UpSampling2D(2)(x)
    x = L.SeparableConv2D(full, 3, padding="same", activation="relu")(x)
    x = L.Conv2D(3, 3, padding="same", kernel_initializer="zeros")(x)
    x = CropLike(border)(x, inp)
    return keras.Model(inp, ResidualLogits(dtype="float32")(recoloured, x))

from tasks.style_transfer.data import style_images  # noqa: E402
from tasks.style_transfer.presets import BUNDLED_STYLES  # noqa: E402

PAINTING = style_images(args.data_dir)[BUNDLED_STYLES[args.style]]
teacher = Task.load(os.path.join(ROOT, "tasks", "style_transfer", "weights", args.style),
                    style_image=PAINTING)
perceptual = teacher.perceptual_loss() if args.perceptual_weight else None
student = build(args.width, args.blocks, args.mid, args.full)
student.get_layer("adain_pixels").set_weights(teacher.model.get_layer("adain_pixels").get_weights())
print("student params", student.count_params(), flush=True)

def fps(model, size=256, reps=30):
    f = tf.function(lambda x: model(x, training=False))
    x = tf.random.uniform([1, size, size, 3])
    for _ in range(3): f(x).numpy()
    best = 0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps): f(x).numpy()
        best = max(best, reps / (time.perf_counter() - t))
    return best

print(f"fps 256: student {fps(student):.1f}  teacher {fps(teacher.model):.1f}", flush=True)

keras.utils.set_random_seed(0)
ds = make_dataset(train_images(args.data_dir), args.size, args.batch, seed=0, cache_side=512)
sched = keras.optimizers.schedules.CosineDecay(args.lr * 0.1, args.steps, warmup_target=args.lr, warmup_steps=100)
opt = keras.optimizers.Adam(sched)

@tf.function
def step(x):
    target = teacher.model(x, training=False)
    with tf.GradientTape() as tape:
        out = student(x, training=True)
        loss = args.l1_weight * tf.reduce_mean(tf.abs(out - target))
        if perceptual is not None:
            loss += args.perceptual_weight * perceptual.total(perceptual.terms(x, out))
    grads = tape.gradient(loss, student.trainable_variables)
    opt.apply_gradients(zip(grads, student.trainable_variables))
    return loss

t0 = time.time(); run = []
if args.eval_only:
    student.load_weights(args.out + ".weights.h5"); args.steps = 0
elif args.init:
    student.load_weights(args.init)
for i, batch in enumerate(ds.take(args.steps) if args.steps else []):
    x = batch[0] if isinstance(batch, tuple) else batch
    run.append(float(step(x)))
    if (i + 1) % 100 == 0:
        print(f"step {i+1} loss {np.mean(run[-100:]):.4f}  {time.time()-t0:.0f}s", flush=True)
if args.steps:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    student.save_weights(args.out + ".weights.h5")
print("train seconds", time.time() - t0, flush=True)
print(f"fps 256: student {fps(student):.1f}  teacher {fps(teacher.model):.1f}", flush=True)
if args.eval:
    teacher_copy = Task.load(os.path.join(ROOT, "tasks", "style_transfer", "weights", args.style), style_image=PAINTING)
    r_t = evaluate_against_optimization(teacher_copy, args.data_dir, size=512, limit=args.eval)
    teacher_copy.model = student; teacher_copy._stylize_fn = None
    r_s = evaluate_against_optimization(teacher_copy, args.data_dir, size=512, limit=args.eval)
    summary = {"teacher_ratio": r_t["loss_ratio"], "student_ratio": r_s["loss_ratio"],
               "teacher_loss": r_t["fast_loss"], "student_loss": r_s["fast_loss"],
               "gatys": r_s["optimized_loss"], "args": vars(args)}
    print(json.dumps(summary), flush=True)
    if args.results:
        with open(args.results, "w") as f:
            json.dump(summary, f, indent=1)
