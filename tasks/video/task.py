"""VideoTask: a clip -> a label for every frame and a sentence for the whole clip.

Trained with two losses at once (per-frame cross-entropy, ignoring padded frames, and
teacher-forced caption cross-entropy); captions are decoded greedy or with beam search
by the shared ``tasks.core.decoding``.

Example:
    >>> examples = read_benchmark("data/video", "train")
    >>> task = VideoTask.from_examples(examples)
    >>> task.fit(make_dataset(examples, task.preprocessor, training=True, repeat=True),
    ...          epochs=1, steps_per_epoch=100)
    >>> task.annotate([frames])[0]["caption"]
    'a red car enters from the left then the car jumps'
"""

import keras
import numpy as np
import tensorflow as tf

from tasks.core import decoding, metrics
from tasks.core.export import ExportedModel
from tasks.core.task import Task, register_task
from tasks.core.text import END_ID, PAD_ID, START_ID, build_vocabulary, standardize_py
from tasks.video.model import build_video_model, frame_mask
from tasks.video.preprocessing import VideoPreprocessor
from tasks.video.presets import presets as _presets
from tasks.video.readers import BACKGROUND, segments_from_labels


@register_task
class VideoTask(Task):
    name = "video"
    presets = _presets
    default_config = {
        "labels": [],
        "vocabulary": [],
        "frame_size": 64,
        "fps": 8,
        "max_frames": 64,
        "sequence_length": 32,
        "frame_widths": [16, 32, 64, 96],
        "feature_dim": 192,
        "temporal": "bigru",
        "temporal_options": {},
        "decoder_options": {},
        "beam_width": 3,
        "length_penalty": 0.6,
        "dtype_policy": "float32",
        "strategy": None,
    }

    @classmethod
    def from_examples(cls, examples, min_count=1, **config):
        """A fresh task whose labels (background first) and caption vocabulary come from
        the examples."""
        events = sorted({label for e in examples for _, _, label in e.get("segments", [])}
                        - {BACKGROUND})
        vocabulary = build_vocabulary([c for e in examples for c in e.get("captions", [])],
                                      min_count)
        return cls({"labels": [BACKGROUND] + events, "vocabulary": vocabulary}, **config)

    def build_preprocessor(self):
        c = self.config
        if len(c["labels"]) < 2 or not c["vocabulary"]:
            raise ValueError("config needs 'labels' (background first) and a caption "
                             "'vocabulary'; use VideoTask.from_examples(...)")
        return VideoPreprocessor(c["labels"], c["vocabulary"], c["frame_size"], c["sequence_length"])

    def build_model(self):
        c = self.config
        return build_video_model(len(c["labels"]), self.preprocessor.vocabulary_size,
                                 c["frame_size"], c["frame_widths"], c["feature_dim"], c["temporal"],
                                 c["temporal_options"], c["decoder_options"])

    def loss(self):
        return {"labels": keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
                "caption": keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                      ignore_class=PAD_ID)}

    # -- inference ----------------------------------------------------------------------
    def _check_options(self, beam_width, max_length):
        beam_width = self.config["beam_width"] if beam_width is None else beam_width
        limit = self.config["sequence_length"] - 1
        max_length = limit if max_length is None else max_length
        if not isinstance(beam_width, (int, np.integer)) or beam_width < 1:
            raise ValueError(f"beam_width must be an int >= 1, got {beam_width!r}")
        if not isinstance(max_length, (int, np.integer)) or not 1 <= max_length <= limit:
            raise ValueError(f"max_length must be in 1..{limit}, got {max_length!r}")
        return int(beam_width), int(max_length)

    def annotate_pixels(self, pixels, lengths, beam_width=None, max_length=None):
        """Preprocessed frames [B, T, S, S, 3] + lengths [B] -> ``{"label_ids" [B, T],
        "scores" [B, T], "captions" [B]}`` in TF ops (graph-safe). Padded frames get
        label id -1 and score 0."""
        beam_width, max_length = self._check_options(beam_width, max_length)
        m = self.model
        features = m.get_layer("frame_encoder")(pixels, training=False)
        mask = frame_mask(lengths, features)
        encoded = m.get_layer("temporal")(features, mask, training=False)
        probabilities = tf.nn.softmax(m.get_layer("frame_labels")(encoded), axis=-1)
        ids = tf.where(mask, tf.argmax(probabilities, axis=-1, output_type=tf.int32), -1)
        scores = tf.where(mask, tf.reduce_max(probabilities, axis=-1), 0.0)
        decoder = m.get_layer("caption_decoder")
        state, context = decoder.decoding_state(encoded, mask)
        if beam_width == 1:
            tokens = decoding.greedy_search(decoder.step, state, START_ID, END_ID, max_length,
                                            context=context)
        else:
            tokens, _ = decoding.beam_search(decoder.step, state, START_ID, END_ID, max_length,
                                             beam_width, self.config["length_penalty"],
                                             context=context)
        return {"label_ids": ids, "scores": scores,
                "captions": self.preprocessor.tokenizer.detokenize(tokens)}

    def annotate_frames(self, frames, lengths, beam_width=None, max_length=None):
        """Raw frames [B, T, H, W, 3] (uint8, or float in 0..255) + lengths [B] -> the
        :meth:`annotate_pixels` outputs plus label names ``"labels"`` [B, T]."""
        out = self.annotate_pixels(self.preprocessor.frames(frames), lengths, beam_width, max_length)
        names = self.preprocessor.label_names(tf.maximum(out["label_ids"], 0))
        return {**out, "labels": tf.where(out["label_ids"] >= 0, names, "")}

    def _compiled(self, beam_width, max_length, preprocess):
        key = (beam_width, max_length, preprocess)
        cache = self.__dict__.setdefault("_annotate_fns", {})
        if key not in cache:
            run = self.annotate_frames if preprocess else self.annotate_pixels
            cache[key] = tf.function(lambda f, n: run(f, n, beam_width, max_length),
                                     reduce_retracing=True)
        return cache[key]

    def _run_batch(self, beam_width, max_length):
        fn = self._compiled(beam_width, max_length, True)
        return lambda frames, lengths: {k: v.numpy() for k, v in fn(
            tf.constant(frames, tf.uint8), tf.constant(lengths, tf.int32)).items()}

    def annotate_stream(self, frames, fps=None, window=None, max_frames=None, beam_width=None,
                        max_length=None, what="video"):
        """An iterable of uint8 frames [H, W, 3] (sampled at ``fps``, default the task's
        rate) -> ``{"caption", "frames", "segments", "windows"}``; see
        :func:`annotate_windows`. Memory holds one window of frames at a time."""
        beam_width, max_length = self._check_options(beam_width, max_length)
        return annotate_windows(self._run_batch(beam_width, max_length), frames,
                                fps or self.config["fps"], window or self.config["max_frames"],
                                max_frames, what)

    def annotate(self, clips, beam_width=None, max_length=None):
        """A list of uint8 frame arrays [T, H, W, 3] at the task's frame rate -> one
        :meth:`annotate_stream` result per clip."""
        return [self.annotate_stream(clip, beam_width=beam_width, max_length=max_length,
                                     what=f"clips[{i}]") for i, clip in enumerate(clips)]

    def serving_endpoints(self):
        def serve(frames, lengths):
            out = self.annotate_frames(frames, lengths, self.config["beam_width"])
            return {"labels": out["labels"], "label_ids": out["label_ids"],
                    "scores": out["scores"], "captions": out["captions"]}

        def metadata():
            c = self.config
            return {"frame_size": tf.constant(c["frame_size"]), "fps": tf.constant(float(c["fps"])),
                    "window": tf.constant(c["max_frames"])}

        return {"annotate": (serve, [tf.TensorSpec([None, None, None, None, 3], tf.uint8, name="frames"),
                                     tf.TensorSpec([None], tf.int32, name="lengths")]),
                "metadata": (metadata, [])}

    # -- evaluation -----------------------------------------------------------------------
    def evaluate(self, dataset, beam_width=None, max_length=None):
        """Score an evaluation dataset (``make_dataset(..., training=False)``): per-frame
        accuracy (%), segment F1 at IoU >= 0.5, caption BLEU-4 and CIDEr-D, and the
        decoded captions."""
        beam_width, max_length = self._check_options(beam_width, max_length)
        run = self._compiled(beam_width, max_length, False)
        hits = frames = 0
        true_segments, pred_segments, hyps, refs = [], [], [], []
        names = self.config["labels"]
        duration = 1.0 / self.config["fps"]
        for batch_frames, lengths, label_ids, references in dataset:
            out = run(self.preprocessor.frames(batch_frames), lengths)
            predicted, truth = out["label_ids"].numpy(), label_ids.numpy()
            for i, n in enumerate(lengths.numpy()):
                hits += int((predicted[i, :n] == truth[i, :n]).sum())
                frames += int(n)
                times = np.arange(n) * duration
                true_segments.append(segments_from_labels([names[k] for k in truth[i, :n]], times,
                                                          BACKGROUND, duration))
                pred_segments.append(segments_from_labels([names[k] for k in predicted[i, :n]],
                                                          times, BACKGROUND, duration))
            hyps += [s.decode() for s in out["captions"].numpy()]
            refs += [[standardize_py(r.decode()) for r in row if r] for row in references.numpy()]
        with_refs = [(h, r) for h, r in zip(hyps, refs) if r]
        scores = {"frame_accuracy": 100.0 * hits / max(frames, 1),
                  "segment_f1": metrics.segment_f1(true_segments, pred_segments),
                  "clips": len(hyps), "captions": hyps}
        if with_refs:
            h, r = zip(*with_refs)
            scores.update(bleu4=metrics.corpus_bleu(list(h), list(r)),
                          cider_d=metrics.cider_d(list(h), list(r)))
        return scores


def annotate_windows(run_batch, frames, fps, window, max_frames=None, what="video"):
    """Annotate a stream of frames window by window (memory: one window).

    ``run_batch(frames uint8 [1, T, H, W, 3], lengths [1])`` returns the serving outputs
    (``labels`` bytes [1, T], ``scores`` [1, T], ``captions`` [1]). Returns
    ``{"caption", "frames": [{"time", "label", "score"}], "segments": [{"start", "end",
    "label"}], "windows": [{"start", "end", "caption"}]}``: one caption per window of
    ``window`` frames, and the video's caption is theirs joined in order with ", then ".
    """
    per_frame, windows, buffer, count = [], [], [], 0

    def flush():
        out = run_batch(np.stack(buffer)[None], [len(buffer)])
        start = len(per_frame)
        for k in range(len(buffer)):
            per_frame.append({"time": round((start + k) / fps, 4),
                              "label": out["labels"][0, k].decode(),
                              "score": round(float(out["scores"][0, k]), 4)})
        windows.append({"start": round(start / fps, 4), "end": round(len(per_frame) / fps, 4),
                        "caption": out["captions"][0].decode()})
        buffer.clear()

    for frame in frames:
        buffer.append(frame)
        count += 1
        if len(buffer) == window:
            flush()
        if max_frames is not None and count >= max_frames:
            break
    if buffer:
        flush()
    if not per_frame:
        raise ValueError(f"{what} has no decodable frames")
    labels = [f["label"] for f in per_frame]
    times = [f["time"] for f in per_frame]
    segments = segments_from_labels(labels, times, BACKGROUND, 1.0 / fps)
    return {"caption": ", then ".join(w["caption"] for w in windows if w["caption"]),
            "frames": per_frame,
            "segments": [{"start": round(a, 4), "end": round(b, 4), "label": x} for a, b, x in segments],
            "windows": windows}


class ExportedVideoAnnotator(ExportedModel):
    """An exported annotator, called like :meth:`VideoTask.annotate_stream`; its frame
    size, rate and window come from the export's ``metadata`` signature."""

    def __init__(self, path, loaded=None):
        super().__init__(path, loaded)
        meta = {k: v.numpy().item() for k, v in self.signatures["metadata"]().items()}
        self.config = {"frame_size": int(meta["frame_size"]), "fps": float(meta["fps"]),
                       "max_frames": int(meta["window"])}

    def annotate_batch(self, frames, lengths, beam_width=None, max_length=None):
        """The ``serving_default`` outputs for a batch, as numpy."""
        self.refuse_options(beam_width=beam_width, max_length=max_length)
        fn = self.signatures["serving_default"]
        return {k: v.numpy() for k, v in fn(frames=tf.constant(frames, tf.uint8),
                                            lengths=tf.constant(lengths, tf.int32)).items()}

    def annotate_stream(self, frames, fps=None, window=None, max_frames=None, beam_width=None,
                        max_length=None, what="video"):
        self.refuse_options(beam_width=beam_width, max_length=max_length)
        return annotate_windows(self.annotate_batch, frames, fps or self.config["fps"],
                                window or self.config["max_frames"], max_frames, what)


VideoTask.exported_class = ExportedVideoAnnotator
