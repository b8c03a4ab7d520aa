"""TranslationTask: English text -> French text, trained with teacher forcing, decoded
greedy or with beam search.

Inference is one graph, the same in Python and in the export: placeholders protected
as ``<phN>``, long texts split into segments (sentences, option-list entries), subword
tokenisation, cached decoding (segments in length-sorted chunks), detokenisation, segments
joined, placeholders restored.

Example:
    >>> pairs = read_tsv_pairs("data/translation_fr/train.tsv")
    >>> task = TranslationTask.from_pairs(pairs, vocabulary_size=8000)
    >>> task.fit(make_dataset(pairs, task.preprocessor, training=True, repeat=True), ...)
    >>> task.translate(["Delete %s?"])
    ['Supprimer %s ?']
"""

import collections
import math
import re

import keras
import tensorflow as tf

from tasks.core import batching, decoding, metrics
from tasks.core.export import ExportedModel
from tasks.core.task import Task, register_task
from tasks.translation import placeholders
from tasks.translation.model import build_translation_model
from tasks.translation.preprocessing import TranslationPreprocessor
from tasks.translation.presets import presets as _presets
from tasks.translation.tokenizer import END_ID, PAD_ID, START_ID, frame, learn_vocabulary

_PLACEHOLDER_TOKEN = re.compile(placeholders.TOKEN)
# source lengths (pieces) that XLA decoding pads to; the frame length is the last bucket
JIT_BUCKETS = (8, 16, 32, 64)


@register_task
class TranslationTask(Task):
    name = "translation"
    presets = _presets
    default_config = {
        "vocabulary": [],
        "source_length": 96,
        "target_length": 96,
        "architecture": "transformer",
        "options": {},
        "beam_width": 4,
        "length_penalty": 0.6,
        # Output length cap per example: ratio * source pieces + extra (EN->FR pieces
        # are 1.2x the source at the median, 2.5x at the 99th percentile).
        "output_length_ratio": 2.0,
        "output_length_extra": 10,
        "dtype_policy": "float32",
        "strategy": None,
        # XLA for the decoding loop in Python inference: True, False, or "auto" (on with a
        # GPU). On the 2-core CPU it halves single-sentence latency but slows batches of
        # 64 (README); exports never use it (TF Serving's XLA:CPU JIT is off by default).
        "jit_compile": "auto",
        # constrained decoding: every <phN> of the source exactly once in the raw output
        "constrain_placeholders": True,
        # A text of at least this many words is translated segment by segment (sentences,
        # and the entries of option lists: placeholders.split_segments); 0 splits only a
        # text too long for source_length. 10 was the best of 10/15/20/30 on val.
        "segment_words": 10,
        # Segments decoded together at most, in order of length (decoding.in_length_order)
        "decode_batch_size": 64,
        # Python batches (translate, evaluate) in flight at once, one thread each: the
        # decoder's many small ops leave a core idle (tasks.core.batching; 3 beat 2 by
        # 1.2-1.3x on 2 cores, 4 and 6 were no better)
        "decode_workers": 3,
    }

    @classmethod
    def from_pairs(cls, pairs, vocabulary_size=8000, **config):
        """A fresh task whose joint subword vocabulary is learned from both sides of ``pairs``."""
        texts = [p["source"] for p in pairs] + [p["target"] for p in pairs]
        return cls({"vocabulary": learn_vocabulary(texts, vocabulary_size)}, **config)

    def with_decoder_layers(self, decoder_blocks):
        """A copy of this Transformer translator that keeps only the decoder blocks listed
        (indices, in order), every other weight and the vocabulary unchanged: the start of a
        shallower, faster student to train further (each decoder block is a third of a
        beam-search step's time with the default 3 + 3 layers).

        Example:
            >>> student = TranslationTask.from_preset("debian_en_fr_transformer").with_decoder_layers([0])
            >>> recipe.train(data_dir, "runs/student", task=student, epochs=20)
        """
        if self.config["architecture"] != "transformer":
            raise ValueError("with_decoder_layers needs architecture 'transformer', got "
                             f"{self.config['architecture']!r}")
        decoder_blocks = [int(i) for i in decoder_blocks]
        if not decoder_blocks:
            raise ValueError("decoder_blocks must list at least one block")
        options = {**self.config["options"], "decoder_layers": len(decoder_blocks)}
        student = type(self)({**self.config, "options": options}, preprocessor=self.preprocessor)
        student.model.get_layer("seq2seq").copy_weights_from(self.model.get_layer("seq2seq"),
                                                             decoder_blocks)
        return student

    def build_preprocessor(self):
        if not self.config["vocabulary"]:
            raise ValueError("config['vocabulary'] is empty; use TranslationTask.from_pairs(...)")
        return TranslationPreprocessor(self.config["vocabulary"], self.config["source_length"],
                                       self.config["target_length"])

    def build_model(self):
        c = self.config
        return build_translation_model(self.preprocessor.vocabulary_size, c["source_length"],
                                       c["target_length"], c["architecture"], c["options"])

    def loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_ID)

    # -- decoding ---------------------------------------------------------------------------
    def _check_options(self, beam_width, max_length):
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        limit = self.config["target_length"]
        max_length = limit if max_length is None else int(max_length)
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        if not 1 <= max_length <= limit:
            raise ValueError(f"max_length must be in 1..{limit} (target tokens), got {max_length}")
        return beam_width, max_length

    def _limits(self, lengths):
        """Per-example output caps for source lengths (int [B] -> int [B])."""
        return (tf.cast(tf.math.ceil(self.config["output_length_ratio"]
                                     * tf.cast(lengths, tf.float32)), tf.int32)
                + self.config["output_length_extra"])

    def _search(self, source_ids, beam_width, max_length, cache_length=None):
        limits = self._limits(tf.reduce_sum(tf.cast(source_ids != PAD_ID, tf.int32), axis=1))
        seq2seq = self.model.get_layer("seq2seq")
        state, context = seq2seq.decoding_state(source_ids, cache_length)
        step = seq2seq.decoding_step()
        if self.config["constrain_placeholders"]:
            # each source placeholder exactly once in the output: its token is banned once
            # used, and the end token while one is still missing
            groups = self.preprocessor.tokenizer.placeholder_ids()
            counts = tf.reduce_sum(tf.cast(tf.reduce_any(
                source_ids[:, :, None, None] == tf.constant(groups, tf.int32)[None, None], -1),
                tf.int32), axis=1)
            step, state = decoding.exact_counts(
                step, state, counts, groups, self.preprocessor.vocabulary_size, END_ID,
                limits=tf.minimum(limits, max_length))
        # finished examples leave the loop, except where XLA needs fixed shapes
        drop = cache_length is None
        if beam_width == 1:
            return decoding.greedy_search(step, state, START_ID, END_ID, max_length,
                                          context=context, limits=limits, drop_finished=drop)
        ids, _ = decoding.beam_search(step, state, START_ID, END_ID, max_length, beam_width,
                                      self.config["length_penalty"], context=context,
                                      limits=limits, drop_finished=drop)
        return ids

    def use_jit(self):
        """Whether Python inference compiles the decoding loop with XLA (config 'jit_compile')."""
        jit = self.config["jit_compile"]
        if jit not in (True, False, "auto"):
            raise ValueError(f"config['jit_compile'] must be True, False or 'auto', got {jit!r}")
        return bool(tf.config.list_physical_devices("GPU")) if jit == "auto" else jit

    def generate(self, source_ids, beam_width=None, max_length=None, jit_compile=False):
        """Encoder ids [B, source_length] -> output ids [B, max_length] (graph-safe).

        Each example stops after ``output_length_ratio * source pieces +
        output_length_extra`` tokens at most (and ``max_length``), so a row that never
        emits the end token cannot keep the whole batch decoding. ``jit_compile`` runs
        the search compiled with XLA, on fixed shapes: sources padded to a few bucket
        lengths (one compilation per bucket and batch size) and fixed-size caches.
        """
        beam_width, max_length = self._check_options(beam_width, max_length)
        lengths = tf.reduce_sum(tf.cast(source_ids != PAD_ID, tf.int32), axis=1)
        longest = tf.maximum(tf.reduce_max(lengths), 1)
        if jit_compile:
            return self._generate_bucketed(source_ids, longest, beam_width, max_length)
        # Decode over the batch's longest source, not the full frame: short inputs are
        # the common case and the encoder and cross-attention cost grows with length.
        return self._search(source_ids[:, :longest], beam_width, max_length)

    def _generate_bucketed(self, source_ids, longest, beam_width, max_length):
        """:meth:`generate` through one XLA-compiled search per source-length bucket."""
        frame_length = self.config["source_length"]
        buckets = [b for b in JIT_BUCKETS if b < frame_length] + [frame_length]
        cache = self.__dict__.setdefault("_jit_searches", {})

        def branch(bucket):
            # outputs stop at the longest cap any source of this bucket can have
            cap = min(max_length, math.ceil(self.config["output_length_ratio"] * bucket)
                      + self.config["output_length_extra"])
            key = (bucket, cap, beam_width)
            if key not in cache:
                cache[key] = tf.function(
                    lambda ids: self._search(ids, beam_width, cap, cache_length=cap),
                    jit_compile=True)
            fn = cache[key]

            def run():
                ids = tf.ensure_shape(source_ids[:, :bucket], [None, bucket])
                return tf.pad(fn(ids), [[0, 0], [0, max_length - cap]], constant_values=PAD_ID)
            return run

        index = tf.reduce_sum(tf.cast(longest > tf.constant(buckets[:-1]), tf.int32))
        return tf.switch_case(index, [branch(b) for b in buckets])

    def translate_protected(self, texts, beam_width=None, max_length=None, jit_compile=False):
        """Strings [B] in the corpus form (placeholders as ``<phN>``) -> strings [B].

        A text whose pieces do not fit ``source_length``, or of at least
        ``config['segment_words']`` words, is split into segments (sentences, and the
        entries of option lists); all units of the batch are decoded together and joined
        back per text with spaces.
        """
        texts = tf.convert_to_tensor(texts, tf.string)
        segments = placeholders.split_segments(texts)
        # One tokenizer call for the texts and their segments: the tokenizer is the larger
        # half of this graph, and tracing it twice doubled the time to build it.
        count = tf.shape(texts, out_type=tf.int64)[0]
        pieces = self.preprocessor.tokenizer(tf.concat([texts, segments.flat_values], 0))
        lengths = tf.cast(pieces.row_lengths()[:count], tf.int32)
        split = lengths > self.config["source_length"] - 1
        if self.config["segment_words"]:
            words = tf.cast(tf.strings.split(texts).row_lengths(), tf.int32)
            split |= words >= int(self.config["segment_words"])
        whole = tf.RaggedTensor.from_row_lengths(texts, tf.ones_like(lengths, tf.int64))
        units = tf.concat([whole, segments], axis=1)
        rows = tf.concat([whole.with_flat_values(tf.range(count)),
                          segments.with_flat_values(count + tf.range(
                              tf.shape(segments.flat_values, out_type=tf.int64)[0]))], axis=1)
        keep_whole = (~split & (lengths > 0))[:, None]
        first = tf.ragged.range(units.row_lengths()) == 0
        keep = tf.where(first.flat_values, tf.gather(keep_whole[:, 0], first.value_rowids()),
                        tf.gather(split, first.value_rowids()))
        units = tf.ragged.boolean_mask(units, first.with_flat_values(keep))
        rows = tf.ragged.boolean_mask(rows, first.with_flat_values(keep))
        units_pieces = tf.gather(pieces, rows.flat_values)
        source = frame(units_pieces, self.preprocessor.source_length)
        ids = decoding.in_length_order(
            lambda chunk: self.generate(chunk, beam_width, max_length, jit_compile), source,
            units_pieces.row_lengths(), int(self.config["decode_batch_size"]))
        out = self.preprocessor.detokenize(ids)
        return tf.strings.reduce_join(units.with_flat_values(out), axis=1, separator=" ")

    def translate_strings(self, texts, beam_width=None, max_length=None, jit_compile=False):
        """Raw strings [B] (placeholders as written: ``%s``, ``{name}``...) -> strings [B]."""
        protected, originals = placeholders.protect(texts)
        protected, accelerators = placeholders.take_accelerator(protected)
        out = self.translate_protected(protected, beam_width, max_length, jit_compile)
        return placeholders.restore(placeholders.put_accelerator(out, accelerators), originals)

    def _compiled(self, beam_width, max_length, raw=True):
        """One cached tf.function per decoding setting (and per input form); the decoding
        inside is compiled with XLA when :meth:`use_jit` says so."""
        jit = self.use_jit()
        key = (beam_width, max_length, raw, jit)
        cache = self.__dict__.setdefault("_translate_fns", {})
        if key not in cache:
            fn = self.translate_strings if raw else self.translate_protected
            cache[key] = tf.function(lambda x: fn(x, beam_width, max_length, jit),
                                     input_signature=[tf.TensorSpec([None], tf.string)])
        return cache[key]

    def translate(self, texts, beam_width=None, max_length=None, batch_size=64):
        """List of str -> list of str, in graph calls of at most ``batch_size`` texts."""
        beam_width, max_length = self._check_options(beam_width, max_length)
        return self._in_batches(self._compiled(beam_width, max_length), texts, batch_size)

    def _in_batches(self, fn, texts, batch_size):
        """``fn`` (strings [B] -> strings [B]) over ``texts`` in batches of similar length,
        ``config['decode_workers']`` at once.

        A batch decodes until its longest member ends, so sorting by length first keeps
        short texts out of long texts' batches (several times faster on mixed input).
        """
        def run(batch):
            return [t.decode("utf-8") for t in fn(tf.constant(batch, tf.string)).numpy()]

        return batching.map_batches(run, list(texts), batch_size, key=len,
                                    workers=int(self.config["decode_workers"]))

    def serving_endpoints(self):
        def serve(texts):
            return {"translations": self.translate_strings(texts, self.config["beam_width"])}

        return {"translate": (serve, [tf.TensorSpec([None], tf.string, name="texts")])}

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, pairs, beam_width=None, max_length=None, batch_size=64):
        """Translate corpus-form ``pairs`` and score them: sacrebleu BLEU and chrF, the
        placeholder preservation rate (percent of sources with placeholders whose
        translation holds exactly the same ``<phN>`` tokens, before any repair),
        and the translations."""
        beam_width, max_length = self._check_options(beam_width, max_length)
        hyps = self._in_batches(self._compiled(beam_width, max_length, raw=False),
                                [p["source"] for p in pairs], batch_size)
        refs = [[p["target"] for p in pairs]]
        with_ph = [(p["source"], h) for p, h in zip(pairs, hyps) if _PLACEHOLDER_TOKEN.search(p["source"])]
        kept = sum(collections.Counter(_PLACEHOLDER_TOKEN.findall(s))
                   == collections.Counter(_PLACEHOLDER_TOKEN.findall(h)) for s, h in with_ph)
        return {
            "bleu": metrics.corpus_bleu(hyps, [[r] for r in refs[0]]),
            "chrf": metrics.corpus_chrf(hyps, [[r] for r in refs[0]]),
            "placeholder_preservation": 100.0 * kept / len(with_ph) if with_ph else None,
            "placeholder_sentences": len(with_ph),
            "examples": len(hyps),
            "translations": hyps,
        }


class ExportedTranslator(ExportedModel):
    """An exported translator, called like :meth:`TranslationTask.translate`."""

    def translate(self, texts, beam_width=None, max_length=None):
        self.refuse_options(beam_width=beam_width, max_length=max_length)
        return self.strings("serving_default", "translations",
                            texts=tf.constant(list(texts), tf.string))


TranslationTask.exported_class = ExportedTranslator
