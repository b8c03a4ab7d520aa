"""One-call inference.

Example:
    >>> import pipelines
    >>> pipelines.caption("cat.jpg")
    'a cat'
    >>> pipelines.caption(["a.png", pil_image, uint8_array], model="emoji_scenes_transformer")
    ['a small red dog to the left of a large blue car', '...', '...']
"""

import contextlib

import numpy as np

from pipelines.inputs import (MAX_AUDIO_SECONDS, MAX_PIXELS, MAX_TEXT_CHARS, MAX_VIDEO_SECONDS,
                              join_lines, split_lines, to_audio_batch, to_image_pixels,
                              to_pixel_batch, to_text_batch, to_video_batch)
from pipelines.models import MODELS

__all__ = ["caption", "transcribe", "translate", "stylize", "annotate_video", "MAX_PIXELS",
           "MAX_AUDIO_SECONDS", "MAX_TEXT_CHARS", "MAX_VIDEO_SECONDS"]


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
            a PIL.Image, or a list of these (run as one batch; arrays of one shape are
            stacked and reach the graph as pixels, never re-encoded).
        model: None for the bundled default (``photo_objects_ssd``: the objects a
            real-photo detector finds, or "a photo"), a preset name (e.g.
            ``emoji_scenes_transformer``), a directory written by ``Task.save`` or a
            SavedModel written by ``Task.export``.
        beam_width: beam size (1 = greedy) of a trained captioner; default from its config.
        max_length: maximum caption length in tokens (trained captioners).
    """
    _check_positive("beam_width", beam_width)
    _check_positive("max_length", max_length)
    batch, was_list = to_pixel_batch(image)
    captioner = MODELS.get("caption", model)
    with _graph_input_errors("image"):
        captions = _in_groups(batch, lambda group: captioner.caption(
            group, beam_width=beam_width, max_length=max_length))
    return captions if was_list else captions[0]


def _in_groups(items, run):
    """Run ``run`` once per group of items the graph can batch together (all encoded bytes;
    pixel arrays of one shape, stacked), and return the results in the items' order.

    Arrays stay pixels: re-encoding them to PNG for the graph to decode cost 5x the time.
    """
    groups = {}
    for i, item in enumerate(items):
        key = "bytes" if isinstance(item, bytes) else item.shape
        groups.setdefault(key, []).append(i)
    results = [None] * len(items)
    for key, indices in groups.items():
        group = [items[i] for i in indices]
        for i, result in zip(indices, run(group if key == "bytes" else np.stack(group))):
            results[i] = result
    return results


def transcribe(audio, *, model=None, beam_width=None, sampling_rate=None, return_timestamps=False,
               language_model=None):
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
            "end", "confidence"}]}`` with times in seconds from the alignment the text came
            from; ``confidence`` (0-1) is the network's probability per letter of the word
            (low: check that word).
        language_model: None for the model's default, True to decode with its word
            language model (lexicon beam search, Python side; ``beam_width`` is its beam),
            False for the graph's CTC decoding (what an export serves).

    Speed: the model stays loaded between calls. Clips whose length (rounded up to a few
    buckets of 1-20 s) recurs run compiled with XLA once that bucket has taken about 3 s
    uncompiled, about twice as fast on a CPU with the same transcripts (the model's config
    ``jit_compile``; ``SpeechTask.clip_logits``); recordings long enough to fill two
    batches of 20 s windows run compiled from the start.

    Example:
        >>> pipelines.transcribe("hello.wav")
        'hello world'
        >>> pipelines.transcribe(samples, sampling_rate=8000, return_timestamps="word")
        {'text': 'hello world', 'words': [{'word': 'hello', 'start': 0.32, 'end': 0.64,
        'confidence': 0.93}, ...]}
    """
    _check_positive("beam_width", beam_width)
    if language_model not in (None, True, False):
        raise TypeError(f"language_model must be None, True or False, got {language_model!r}")
    if return_timestamps not in (False, None, "word"):
        raise ValueError(f"return_timestamps must be False or 'word', got {return_timestamps!r}")
    sources, was_list = to_audio_batch(audio, sampling_rate)
    with _graph_input_errors("audio"):
        results = MODELS.get("transcribe", model).transcribe_sources(
            sources, beam_width=beam_width, timestamps=return_timestamps == "word",
            language_model=language_model)
    return results if was_list else results[0]


def translate(text, *, model=None, beam_width=None, max_length=None):
    """Translate English text to French: one str, or a list of str (list in, list out).

    Placeholders (``%s``, ``%1$d``, ``{name}``, ``%(count)s``, ``$1`` ...) come out
    exactly once each, as written. Each line is translated on its own and the layout
    (line breaks, indentation, trailing spaces) is kept; a line of 10 words or more, or
    too long for the model, is translated in segments (sentences, option-list entries).
    "" gives "".

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


def _check_strength(strength):
    import math

    if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
            or math.isnan(strength) or not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be a number in 0..1, got {strength!r}")
    return float(strength)


def _style_network(style):
    """A ``style`` argument for method="fast" -> the model key of a fast network (a bundled
    style name, a saved task directory or an exported SavedModel), or None when ``style``
    is an image (the arbitrary-style network's job)."""
    import os

    from pipelines import registry

    cls = registry.task_class("stylize")
    if style is None:
        return registry.default_preset("stylize")
    from tasks.core.export import ExportedModel

    if isinstance(style, (*registry.task_classes("stylize"), ExportedModel)):
        return style  # a loaded network (an arbitrary-style one is refused by the caller)
    if isinstance(style, (str, os.PathLike)):
        name = os.fspath(style)
        if name in cls.presets and "path" in cls.presets[name]:
            return name
        if os.path.isdir(name):
            return name
        if not os.path.exists(name):
            bundled = sorted(k for k, v in cls.presets.items() if "path" in v)
            raise ValueError(f"style={name!r} is not a bundled style ({', '.join(bundled)}), "
                             "a trained style directory or an image file")
    return None


def _arbitrary_network(model):
    """The model key of the arbitrary-style network: ``model``, or the bundled one."""
    import os

    from tasks.style_transfer import presets

    if model is not None:
        return model
    if not os.path.isfile(os.path.join(presets.ARBITRARY_DIR, "task.json")):
        raise ValueError("style is an image, but the bundled arbitrary-style network is "
                         f"missing from {presets.ARBITRARY_DIR!r}; reinstall, train it "
                         "('pipelines train style --arbitrary'), or pass method='optimize'")
    return presets.ARBITRARY_DIR


def _is_arbitrary(network):
    from tasks.style_transfer.arbitrary_task import ArbitraryStyleTask, ExportedArbitraryStylizer

    return isinstance(network, (ArbitraryStyleTask, ExportedArbitraryStylizer))


def stylize(image, *, style=None, strength=1.0, method="fast", size=None, steps=300, model=None):
    """Repaint one image or a list of images in the style of a painting (list in, list out).

    Args:
        image: a path, encoded bytes, a uint8 numpy array (HxW, HxWx3 or HxWx4) or a
            PIL.Image, or a list of these. Arrays and PIL images reach the network as
            pixels (never re-encoded).
        style: a bundled style name (None: the default), a directory written by
            ``Task.save``, a SavedModel written by ``Task.export`` or a loaded
            ``StyleTransferTask`` (a fast network for one style); or any style image (path,
            bytes, array or PIL.Image), which the bundled arbitrary-style (AdaIN) network
            applies in one pass, or Gatys optimisation with ``method="optimize"``.
        strength: 0..1, how much style: a fast network blends its output with the input;
            the arbitrary network blends the style statistics in feature space.
        method: "fast" (one pass of a trained network) or "optimize" (Gatys et al.:
            ``steps`` gradient steps on the pixels against the bundled loss network; minutes).
        size: None keeps each image's size; an int resizes so the longer side is ``size``.
        steps: gradient steps of ``method="optimize"``.
        model: the arbitrary-style network that applies a style image: None (the bundled
            one), a preset name, a directory written by ``Task.save``, a SavedModel written
            by ``Task.export`` or a loaded one. Only with a style image and method="fast".

    Returns:
        a PIL.Image, or a list of them.

    Example:
        >>> pipelines.stylize("photo.jpg", style="great_wave").save("wave.png")
        >>> pipelines.stylize(photo, style="my_painting.jpg")        # any painting, one pass
        >>> pipelines.stylize(photo, style="my_painting.jpg", method="optimize", steps=200)
        >>> pipelines.stylize(photo, style="my_painting.jpg", model="runs/my_arbitrary")
    """
    from PIL import Image

    strength = _check_strength(strength)
    _check_positive("size", size)
    _check_positive("steps", steps)
    if method not in ("fast", "optimize"):
        raise ValueError(f"method must be 'fast' or 'optimize', got {method!r}")
    batch, was_list = to_pixel_batch(image)
    key = _style_network(style) if method == "fast" else None
    if model is not None and (key is not None or method != "fast"):
        raise ValueError("model= is the arbitrary-style network that applies a style image "
                         "with method='fast'; a named or trained style (and method='optimize') "
                         "takes no model")
    if key is None:
        if style is None:
            raise ValueError("method='optimize' needs style= an image (path, bytes, array "
                             "or PIL.Image)")
        from tasks.style_transfer.task import to_float_pixels

        with _graph_input_errors("style"):  # decoded first, so its errors name it
            style_pixels = to_float_pixels(to_image_pixels(style, "style"), what="style").numpy()
    with _graph_input_errors("image"):
        if key is not None:
            network = MODELS.get("stylize", key)
            if _is_arbitrary(network):
                raise ValueError(f"style={style!r} is an arbitrary-style network, not a style: "
                                 "pass it as model= and a painting as style=")
            results = network.stylize(batch, strength=strength, size=size)
        elif method == "fast":
            network = MODELS.get("stylize", _arbitrary_network(model))
            if not _is_arbitrary(network):
                raise ValueError(f"model={model!r} is a fast network for one style: pass it as "
                                 "style= (model= takes an arbitrary-style network)")
            results = network.stylize(batch, style=style_pixels, strength=strength, size=size)
        else:
            from tasks.style_transfer.optimize import stylize_by_optimization

            results = stylize_by_optimization(batch, style_pixels, strength=strength, size=size,
                                              steps=steps)
    images = [Image.fromarray(np.asarray(np.round(r * 255.0), np.uint8)) for r in results]
    return images if was_list else images[0]


def annotate_video(video, *, model=None, fps=None, max_frames=None, beam_width=None):
    """Label every frame of a video and describe it in a sentence (a list in gives a list out).

    Args:
        video: a path or bytes of any video FFmpeg reads (mp4, webm, mkv, avi...), a uint8
            array ``[T, H, W, 3]`` (taken as already sampled at ``fps``), or a list of these.
            Videos are decoded as a stream and annotated a window at a time, so memory
            stays bounded however long they are (up to ``MAX_VIDEO_SECONDS``).
        model: None for the bundled default, a preset name, a directory written by
            ``Task.save`` or a SavedModel written by ``Task.export``.
        fps: frames per second to annotate at; default the model's (8).
        max_frames: annotate at most this many frames from the start.
        beam_width: caption beam size (1 = greedy); default from the model's config.

    Returns:
        ``{"caption": str, "frames": [{"time", "label", "score"}], "segments": [{"start",
        "end", "label"}], "windows": [{"start", "end", "caption"}]}``; times in seconds.
        Videos longer than one window (64 frames by default) get a caption per window,
        joined in order with ", then " into ``caption``.

    Example:
        >>> pipelines.annotate_video("clip.mp4")["caption"]
        'a red car enters from the left then the car jumps'
    """
    _check_positive("max_frames", max_frames)
    _check_positive("beam_width", beam_width)
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))
                            or not 0 < fps <= 120):
        raise ValueError(f"fps must be a number in (0, 120], got {fps!r}")
    sources, was_list = to_video_batch(video)
    annotator = MODELS.get("annotate_video", model)
    size = getattr(annotator, "config", {}).get("frame_size", 64)
    rate = fps or getattr(annotator, "config", {}).get("fps", 8)
    results = [annotator.annotate_stream(source.frames(rate, size), fps=rate, max_frames=max_frames,
                                         beam_width=beam_width, what=source.what)
               for source in sources]
    return results if was_list else results[0]
