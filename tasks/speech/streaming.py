"""Transcribing recordings of any length in bounded memory.

A recording is cut into windows of ``WINDOW_SECONDS`` that overlap by
``2 * CONTEXT_SECONDS``; each window is read, resampled to 16 kHz and run through the
acoustic model (several windows a batch), and only the logits of its centre are kept.
Window starts fall on whole output frames, so the kept logits join into one
sequence for the whole recording, which is then CTC-decoded once: no word is cut in
two, doubled or lost at a seam, and only the logits (25 frames of 29 floats a second)
are ever held for the whole recording. A recording that fits one window is one
window.

Example:
    >>> sources, _ = pipelines.inputs.to_audio_batch(["talk.flac"])
    >>> transcribe_sources(task, sources)
    ['good morning everyone ...']
"""

import numpy as np
import tensorflow as tf

from tasks.core import audio as audio_ops
from tasks.speech.model import BLANK_LOGIT_GAP
from tasks.speech.task import word_timestamps

WINDOW_SECONDS = 20.0
CONTEXT_SECONDS = 2.0
WINDOWS_PER_BATCH = 8


def _windows(source, frame_seconds):
    """(native start, native stop, keep_from frame, keep_to frame) of each window;
    ``frame_seconds`` per logit frame."""
    hop = WINDOW_SECONDS - 2 * CONTEXT_SECONDS
    context_frames = int(round(CONTEXT_SECONDS / frame_seconds))
    if source.seconds <= WINDOW_SECONDS:
        return [(0, source.frames, 0, None)]
    out, k = [], 0
    while True:
        start = k * hop
        native_start = int(round(start * source.rate))
        native_stop = int(round((start + WINDOW_SECONDS) * source.rate))
        last = native_stop >= source.frames
        out.append((native_start, native_stop, 0 if k == 0 else context_frames,
                    None if last else context_frames + int(round(hop / frame_seconds))))
        if last:
            return out
        k += 1


def _read_16k(source, start, stop):
    audio = source.read(start, stop)
    if source.rate != audio_ops.SAMPLE_RATE:
        audio = audio_ops.resample(audio, source.rate, audio_ops.SAMPLE_RATE).numpy()
    return audio


def _fixed_batch(waves):
    """Windows -> one ``[WINDOWS_PER_BATCH, window samples]`` batch (a short batch filled
    with copies of its first window, whose logits are dropped): the shape XLA compiles for."""
    waves = waves + [waves[0]] * (WINDOWS_PER_BATCH - len(waves))
    audio, lengths = audio_ops.pad_batch(waves)
    width = int(round(WINDOW_SECONDS * audio_ops.SAMPLE_RATE))
    if audio.shape[1] < width:
        audio = np.pad(audio, [(0, 0), (0, width - audio.shape[1])])
    return audio, lengths


def stitched_logits(task, sources):
    """Each source -> its logits ``[frames, V]`` over the whole recording (numpy).

    When every source is longer than a window, their windows fill at least two batches and
    the task's ``use_jit()`` says so, every batch is padded to one shape and the network
    runs compiled with XLA (it compiles once per shape, which only many batches repay; short
    clips padded to a whole window would cost more than XLA saves). Other batches go through
    the task's ``clip_logits``, which compiles a length bucket once it is used often."""
    windows = [_windows(s, task.frame_seconds()) for s in sources]
    jobs = [(i, w) for i, ws in enumerate(windows) for w in ws]
    fixed = (len(jobs) >= 2 * WINDOWS_PER_BATCH and all(len(ws) > 1 for ws in windows)
             and task.use_jit())
    pieces = [[] for _ in sources]
    for b in range(0, len(jobs), WINDOWS_PER_BATCH):
        batch = jobs[b: b + WINDOWS_PER_BATCH]
        waves = [_read_16k(sources[i], w[0], w[1]) for i, w in batch]
        if fixed:
            audio, lengths = _fixed_batch(waves)
            logits = task.logits(audio, lengths, jit_compile=True)
        else:
            audio, lengths = audio_ops.pad_batch(waves)
            logits = task.clip_logits(audio, lengths)
        for (i, (_, _, keep_from, keep_to)), row, n in zip(batch, logits, lengths):
            pieces[i].append(row[: task.valid_frames(n)][keep_from:keep_to])
    return [np.concatenate(p, axis=0) for p in pieces]


def _pad_logits(logits_list):
    steps = max(len(x) for x in logits_list)
    vocab = logits_list[0].shape[-1]
    blank = np.full([vocab], -BLANK_LOGIT_GAP, np.float32)
    blank[0] = 0.0
    out = np.tile(blank, [len(logits_list), steps, 1])
    for row, x in zip(out, logits_list):
        row[: len(x)] = x
    return out


def transcribe_sources(task, sources, beam_width=None, timestamps=False, language_model=None):
    """Recordings (:class:`pipelines.inputs.AudioSource`) -> transcripts.

    With ``timestamps`` each result is ``{"text", "words": [{"word", "start", "end",
    "confidence"}]}`` from the CTC alignment: the greedy one, or the language-model search's
    best path (``tasks.speech.task.word_timestamps`` says what the confidence is).
    ``language_model`` (None = the model's default) decodes the stitched logits with the
    task's word language model instead of the graph's CTC decoder; ``beam_width`` is then
    that search's beam.
    """
    use_lm = task.uses_language_model(language_model)
    logits = stitched_logits(task, sources)
    alphabet = task.preprocessor.alphabet
    if use_lm:
        decoded = task.decode_with_language_model(logits, beam_width)
        if not timestamps:
            return [text for text, _ in decoded]
        return [{"text": text, "words": word_timestamps(tf.nn.log_softmax(x).numpy(), alphabet,
                                                        task.frame_seconds(), path=path,
                                                        text=text)}
                for x, (text, path) in zip(logits, decoded)]
    if timestamps:
        results = []
        for x in logits:
            words = word_timestamps(tf.nn.log_softmax(x).numpy(), alphabet, task.frame_seconds())
            results.append({"text": " ".join(w["word"] for w in words), "words": words})
        return results
    return task.decode_batch(_pad_logits(logits), beam_width)
