"""CaptioningTask: image -> caption, trained with teacher forcing, decoded greedy or beam.

Example:
    >>> examples = read_coco_captions("data/emoji_scenes", "train")
    >>> task = CaptioningTask.from_examples(examples, decoder="transformer")
    >>> task.fit(make_dataset(examples, task.preprocessor, training=True), epochs=2)
    >>> task.caption([open("dog.jpg", "rb").read()], beam_width=3)
    ['a small red dog']
"""

import keras
import tensorflow as tf

from tasks.captioning.model import build_captioning_model
from tasks.captioning.presets import presets as _presets
from tasks.captioning.preprocessing import CaptioningPreprocessor
from tasks.core import decoding, metrics
from tasks.core.export import ExportedModel
from tasks.core.task import Task, register_task
from tasks.core.text import END_ID, PAD_ID, START_ID, build_vocabulary


@register_task
class CaptioningTask(Task):
    name = "captioning"
    presets = _presets
    default_config = {
        "vocabulary": [],
        "image_size": 96,
        "sequence_length": 16,
        "backbone": "small_cnn",
        "backbone_weights": None,
        "encoder_widths": None,
        "decoder": "transformer",
        "decoder_options": {},
        "beam_width": 3,
        "length_penalty": 0.6,
        "dtype_policy": "float32",
        "strategy": None,
    }

    @classmethod
    def from_examples(cls, examples, min_count=1, **config):
        """Build a fresh task whose vocabulary comes from the examples' captions."""
        vocabulary = build_vocabulary([c for e in examples for c in e["captions"]], min_count)
        return cls({"vocabulary": vocabulary}, **config)

    def build_preprocessor(self):
        if not self.config["vocabulary"]:
            raise ValueError("config['vocabulary'] is empty; use CaptioningTask.from_examples(...)")
        return CaptioningPreprocessor(self.config["vocabulary"], self.config["image_size"],
                                      self.config["sequence_length"])

    def build_model(self):
        c = self.config
        return build_captioning_model(
            self.preprocessor.vocabulary_size, c["sequence_length"], c["image_size"], c["backbone"],
            c["backbone_weights"], c["encoder_widths"], c["decoder"], c["decoder_options"],
        )

    def loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_ID)

    # -- decoding ---------------------------------------------------------------------
    def generate(self, pixels, beam_width=None, max_length=None):
        """Float pixels [B, S, S, 3] in 0..1 -> token ids [B, max_length] (graph-safe)."""
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        limit = self.config["sequence_length"] - 1
        max_length = limit if max_length is None else int(max_length)
        if not 1 <= max_length <= limit:
            raise ValueError(f"max_length must be in 1..{limit}, got {max_length}")
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        decoder = self.model.get_layer("decoder")
        grid = self.model.get_layer("image_encoder")(pixels, training=False)
        state, context = decoder.initial_state(grid)
        if beam_width == 1:
            return decoding.greedy_search(decoder.decoding_step(), state, START_ID, END_ID,
                                          max_length, context=context, drop_finished=True)
        ids, _ = decoding.beam_search(decoder.decoding_step(), state, START_ID, END_ID, max_length,
                                      beam_width, self.config["length_penalty"], context=context,
                                      drop_finished=True)
        return ids

    def captions_from_pixels(self, pixels, beam_width=None, max_length=None):
        """Preprocessed pixels -> caption strings, all in TF ops (graph-safe)."""
        return self.preprocessor.tokenizer.detokenize(self.generate(pixels, beam_width, max_length))

    def _compiled(self, beam_width, max_length, preprocess):
        """One cached tf.function per decoding setting and input kind."""
        key = (beam_width, max_length, preprocess)
        cache = self.__dict__.setdefault("_caption_fns", {})
        if key not in cache:
            prepare = self.preprocessor.image_preprocessor if preprocess else (lambda x: x)
            cache[key] = tf.function(
                lambda x: self.captions_from_pixels(prepare(x), beam_width, max_length),
                reduce_retracing=True)
        return cache[key]

    def caption(self, images, beam_width=None, max_length=None):
        """Batch of encoded image bytes or pixel arrays [B, h, w, 3] -> list of str."""
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        out = self._compiled(beam_width, max_length, True)(tf.convert_to_tensor(images))
        return [s.decode("utf-8") for s in out.numpy()]

    def serving_endpoints(self):
        def serve(images):  # bytes or float pixels: the image preprocessor takes both
            return {"captions": self.captions_from_pixels(
                self.preprocessor.image_preprocessor(images), self.config["beam_width"])}

        return {
            "caption_bytes": (serve, [tf.TensorSpec([None], tf.string, name="images")]),
            "caption_pixels": (serve, [tf.TensorSpec([None, None, None, 3], tf.float32,
                                                     name="pixels")]),
        }

    # -- evaluation -------------------------------------------------------------------
    def evaluate(self, dataset, beam_width=None, max_length=None, limit=None):
        """Decode an evaluation dataset (``make_dataset(..., training=False)``) and score it.

        Returns BLEU-4 (sacrebleu), CIDEr-D, exact match (%) and the decoded captions.
        """
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        return score_captions(self._compiled(beam_width, max_length, False), dataset, limit)


def score_captions(decode, dataset, limit=None):
    """Decode ``(pixels, references)`` batches with ``decode`` (pixels -> tf.string captions)
    and score them: BLEU-4 (sacrebleu), CIDEr-D, exact match (%) and the captions.

    Example:
        >>> score_captions(task.captions_from_pixels, make_dataset(examples, task.preprocessor))
        {'bleu4': 61.2, 'cider_d': 2.9, 'exact_match': 41.0, 'examples': 500, 'captions': [...]}
    """
    hyps, refs = [], []
    for pixels, references in dataset:
        hyps += [s.decode() for s in decode(pixels).numpy()]
        refs += [[r.decode() for r in row if r] for row in references.numpy()]
        if limit and len(hyps) >= limit:
            break
    return {
        "bleu4": metrics.corpus_bleu(hyps, refs),
        "cider_d": metrics.cider_d(hyps, refs),
        "exact_match": metrics.exact_match(hyps, refs),
        "examples": len(hyps),
        "captions": hyps,
    }


class ExportedCaptioner(ExportedModel):
    """An exported captioner, called like :meth:`CaptioningTask.caption`."""

    def caption(self, images, beam_width=None, max_length=None):
        """Encoded bytes (a list) or uint8/float pixels ``[B, h, w, 3]`` (0..255)."""
        self.refuse_options(beam_width=beam_width, max_length=max_length)
        if isinstance(images, (list, tuple)):
            return self.strings("serving_default", "captions", images=tf.constant(images, tf.string))
        return self.strings("caption_pixels", "captions", pixels=tf.cast(images, tf.float32))


CaptioningTask.exported_class = ExportedCaptioner
