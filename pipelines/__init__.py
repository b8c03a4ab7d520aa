"""One-call inference.

Example:
    >>> import pipelines
    >>> pipelines.caption("photo.jpg")
    'a small red dog to the left of a large blue car'
    >>> pipelines.caption(["a.png", pil_image, uint8_array], beam_width=1)
    ['...', '...', '...']
"""

import contextlib

from pipelines.inputs import (MAX_AUDIO_SECONDS, MAX_PIXELS, MAX_TEXT_CHARS, join_lines,
                              split_lines, to_audio_batch, to_image_batch, to_text_batch)
from pipelines.models import MODELS

__all__ = ["caption", "transcribe", "translate", "MAX_PIXELS", "MAX_AUDIO_SECONDS",
           "MAX_TEXT_CHARS"]


@contextlib.contextmanager
def _graph_input_errors(argument):
    """Map a graph-side decode failure to the ValueError the Python checks would give.

    The Python side decides validity before heavy work, but TensorFlow's decoders are
    stricter than PIL/libsndfile on a few corrupt files (e.g. a bad PNG checksum).
    """
    try:
        yield
    except Exception as err:
        import tensorflow as tf

        if isinstance(err, tf.errors.InvalidArgumentError):
            detail = err.message.strip().splitlines()[0].split("}} ")[-1]
            raise ValueError(f"{argument} holds corrupt data that TensorFlow's decoder "
                             f"refused: {detail}") from None
        raise


def _check_positive(name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def caption(image, *, model=None, beam_width=None, max_length=None):
    """Caption one image or a list of images (a list in gives a list out).

    Args:
        image: a path, encoded bytes, a uint8 numpy array (HxWx3, HxW or HxWx4),
            a PIL.Image, or a list of these (run as one batch).
        model: None for the bundled default, a preset name, a directory written by
            ``Task.save`` or a SavedModel written by ``Task.export``.
        beam_width: beam size (1 = greedy); default from the model's config.
        max_length: maximum caption length in tokens.
    """
    _check_positive("beam_width", beam_width)
    _check_positive("max_length", max_length)
    batch, was_list = to_image_batch(image)
    with _graph_input_errors("image"):
        captions = MODELS.get("caption", model).caption(batch, beam_width=beam_width,
                                                        max_length=max_length)
    return captions if was_list else captions[0]


def transcribe(audio, *, model=None, beam_width=None, sampling_rate=None, return_timestamps=False):
    """Transcribe one recording or a list of recordings (a list in gives a list out).

    Args:
        audio: a path or bytes of any libsndfile format (WAV, FLAC, OGG, MP3), a numpy
            array (float in -1..1, int16 or int32; ``[time]`` or ``[time, channels]``,
            mixed down) with ``sampling_rate``, or a list of these. Any rate is resampled
            to 16 kHz; recordings of any length up to ``MAX_AUDIO_SECONDS`` are cut into
            overlapping windows and stitched. Silence gives "".
        model: None for the bundled default, a preset name, a directory written by
            ``Task.save`` or a SavedModel written by ``Task.export``.
        beam_width: CTC beam width (1 = greedy); default from the model's config.
        sampling_rate: the rate of array inputs, in Hz (required for arrays).
        return_timestamps: False, or "word" for ``{"text", "words": [{"word", "start",
            "end"}]}`` with times in seconds from the greedy alignment.

    Example:
        >>> pipelines.transcribe("hello.wav")
        'hello world'
        >>> pipelines.transcribe(samples, sampling_rate=8000, return_timestamps="word")
        {'text': 'hello world', 'words': [{'word': 'hello', 'start': 0.32, 'end': 0.64}, ...]}
    """
    _check_positive("beam_width", beam_width)
    if return_timestamps not in (False, None, "word"):
        raise ValueError(f"return_timestamps must be False or 'word', got {return_timestamps!r}")
    sources, was_list = to_audio_batch(audio, sampling_rate)
    with _graph_input_errors("audio"):
        results = MODELS.get("transcribe", model).transcribe_sources(
            sources, beam_width=beam_width, timestamps=return_timestamps == "word")
    return results if was_list else results[0]


def translate(text, *, model=None, beam_width=None, max_length=None):
    """Translate English text to French: one str, or a list of str (list in, list out).

    Placeholders (``%s``, ``%1$d``, ``{name}``, ``%(count)s``, ``$1`` ...) come out
    exactly once each, as written. Each line is translated on its own and the layout
    (line breaks, indentation, trailing spaces) is kept; a line too long for the model
    is split into sentences. "" gives "".

    Args:
        text: a str (or UTF-8 bytes), or a list of them (run as one batch); at most
            ``MAX_TEXT_CHARS`` characters each.
        model: None for the bundled default, a preset name, a directory written by
            ``Task.save`` or a SavedModel written by ``Task.export``.
        beam_width: beam size (1 = greedy); default from the model's config.
        max_length: most target tokens per sentence.

    Example:
        >>> pipelines.translate("Delete %s?")
        'Supprimer %s ?'
    """
    _check_positive("beam_width", beam_width)
    _check_positive("max_length", max_length)
    texts, was_list = to_text_batch(text)
    lines, plans = split_lines(texts)
    unique = list(dict.fromkeys(lines))
    translated = (MODELS.get("translate", model).translate(unique, beam_width=beam_width,
                                                           max_length=max_length)
                  if unique else [])
    by_line = dict(zip(unique, translated))
    results = join_lines(plans, [by_line[line] for line in lines])
    return results if was_list else results[0]
