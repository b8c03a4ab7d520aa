"""Input coercion for every pipeline, in one place (images first, audio below).

Accepts a path (str / os.PathLike), encoded bytes, a numpy array (uint8 HxWx3,
HxW grayscale or HxWx4 RGBA; float arrays in 0..255 or 0..1 are refused to avoid
guessing), a PIL.Image, or a list of these. Everything comes out as encoded
image bytes, so the TensorFlow graph (the same one that is exported) does all the
decoding and resizing: there is no second, Python-side preprocessing path.

Images larger than ``MAX_PIXELS`` are rejected before they are decoded.

Example:
    >>> batch, was_list = to_image_batch(["cat.jpg", open("dog.png", "rb").read()])
"""

import io
import os
import struct
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_TEXT_CHARS = 20_000  # per text: longer ones are refused (split them yourself)
MAX_PIXELS = 40_000_000  # 40 megapixels: larger inputs are rejected, never decoded
_GRAPH_FORMATS = {"JPEG", "PNG", "GIF", "BMP"}  # what tf.io.decode_image reads


def _encode_png(image):
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _check_size(width, height, what):
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"{what} is {width}x{height} = {width * height} pixels, above the limit of "
            f"{MAX_PIXELS} (pipelines.inputs.MAX_PIXELS); downscale it first"
        )
    if width < 1 or height < 1:
        raise ValueError(f"{what} has an empty size {width}x{height}")


def _from_bytes(data, what):
    if len(data) == 0:
        raise ValueError(f"{what} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check size below
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ValueError(f"{what} is not an image file PIL can read") from None
    except Image.DecompressionBombError as err:
        raise ValueError(f"{what} is above the limit of pixels PIL will open: {err}") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as err:
        # a header cut short or inconsistent (e.g. a JPEG truncated inside its header)
        raise ValueError(f"{what} is truncated or corrupt: {err}") from None
    _check_size(*image.size, what)
    try:
        image.load()  # catches truncated / corrupt payloads before TensorFlow sees them
    except (OSError, SyntaxError) as err:
        raise ValueError(f"{what} is truncated or corrupt: {err}") from None
    if image.format in _GRAPH_FORMATS and image.mode in ("RGB", "L", "RGBA", "P", "LA"):
        return bytes(data)
    return _encode_png(image.convert("RGB"))


def _from_array(array, what):
    if array.dtype != np.uint8:
        raise TypeError(f"{what} has dtype {array.dtype}; expected uint8 pixels (0..255)")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        mode = "L"
    elif array.ndim == 3 and array.shape[-1] in (3, 4):
        mode = "RGB" if array.shape[-1] == 3 else "RGBA"
    else:
        raise ValueError(f"{what} has shape {array.shape}; expected HxW, HxWx1, HxWx3 or HxWx4")
    _check_size(array.shape[1], array.shape[0], what)
    image = Image.fromarray(np.ascontiguousarray(array), mode)
    return _encode_png(image.convert("RGB"))


def _existing_file(item, what, kind):
    """A path argument -> str, refusing missing files and directories."""
    path = os.fspath(item)
    if not os.path.exists(path):
        raise ValueError(f"{what}: file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path!r} is a directory, expected {kind}")
    return path


def to_image_bytes(item, what="image"):
    """One image in any accepted form -> encoded bytes TensorFlow can decode."""
    if isinstance(item, (str, os.PathLike)):
        path = _existing_file(item, what, "an image file")
        with open(path, "rb") as f:
            return _from_bytes(f.read(), f"{what} ({path})")
    if isinstance(item, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(item), what)
    if isinstance(item, Image.Image):
        _check_size(*item.size, what)
        return _encode_png(item.convert("RGB"))
    if isinstance(item, np.ndarray):
        return _from_array(item, what)
    raise TypeError(
        f"{what} has type {type(item).__name__}; expected a path, bytes, a uint8 numpy "
        "array, a PIL.Image, or a list of these"
    )


def to_image_pixels(item, what="image"):
    """One image -> encoded bytes (a path or bytes: the graph decodes them) or uint8
    ``[h, w, 3]`` pixels (a numpy array or PIL.Image: already decoded, so never re-encoded).

    Grayscale is repeated to RGB and an alpha channel dropped.
    """
    if isinstance(item, Image.Image):
        _check_size(*item.size, what)
        return np.asarray(item.convert("RGB"))
    if isinstance(item, np.ndarray):
        if item.dtype != np.uint8:
            raise TypeError(f"{what} has dtype {item.dtype}; expected uint8 pixels (0..255)")
        if item.ndim == 3 and item.shape[-1] == 1:
            item = item[..., 0]
        if item.ndim == 2:
            item = np.repeat(item[..., None], 3, axis=-1)
        if item.ndim != 3 or item.shape[-1] not in (3, 4):
            raise ValueError(f"{what} has shape {item.shape}; expected HxW, HxWx1, HxWx3 or HxWx4")
        _check_size(item.shape[1], item.shape[0], what)
        return np.ascontiguousarray(item[..., :3])
    return to_image_bytes(item, what)


def to_pixel_batch(images, argument="image"):
    """Like :func:`to_image_batch`, but arrays and PIL images stay pixels
    (:func:`to_image_pixels`). Returns (list, was_a_list)."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"{argument} is an empty list; pass at least one image")
        return [to_image_pixels(x, f"{argument}[{i}]") for i, x in enumerate(images)], True
    return [to_image_pixels(images, argument)], False


def to_image_batch(images, argument="image"):
    """Return (list of encoded bytes, was_a_list)."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"{argument} is an empty list; pass at least one image")
        return [to_image_bytes(x, f"{argument}[{i}]") for i, x in enumerate(images)], True
    return [to_image_bytes(images, argument)], False


# -- audio ------------------------------------------------------------------------------
MAX_AUDIO_SECONDS = 4 * 3600  # longer inputs are refused from the header, before decoding
_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


class AudioSource:
    """One recording, read lazily: ``rate``, ``frames`` and ``read(start, stop)`` -> mono float32.

    Files and bytes stay on disk / in their buffer and are read a window at a time,
    so a long recording is never decoded whole.
    """

    def __init__(self, rate, frames, reader, what):
        self.rate, self.frames, self._reader, self.what = int(rate), int(frames), reader, what

    @property
    def seconds(self):
        return self.frames / self.rate

    def read(self, start=0, stop=None):
        stop = self.frames if stop is None else min(stop, self.frames)
        audio = self._reader(max(start, 0), stop)
        if not np.all(np.isfinite(audio)):
            raise ValueError(f"{self.what} holds NaN or infinite samples")
        return audio


def _check_duration(frames, rate, what):
    if frames <= 0:
        raise ValueError(f"{what} is empty (zero samples)")
    if frames / rate > MAX_AUDIO_SECONDS:
        raise ValueError(f"{what} lasts {frames / rate:.0f} s, above the limit of {MAX_AUDIO_SECONDS} s "
                         "(pipelines.inputs.MAX_AUDIO_SECONDS); split it first")


def _from_sound_file(opener, what):
    import soundfile

    try:
        with opener() as f:
            rate, frames = f.samplerate, f.frames
    except (RuntimeError, soundfile.LibsndfileError, EOFError) as err:
        raise ValueError(f"{what} is not an audio file libsndfile can read: {err}") from None
    if rate < 1000:
        raise ValueError(f"{what} declares a sample rate of {rate} Hz; expected >= 1000 Hz")
    _check_duration(frames, rate, what)

    def read(start, stop):
        try:
            with opener() as f:
                f.seek(start)
                audio = f.read(stop - start, dtype="float32", always_2d=True)
        except (RuntimeError, soundfile.LibsndfileError, EOFError) as err:
            raise ValueError(f"{what} is truncated or corrupt: {err}") from None
        return audio.mean(axis=1)

    return AudioSource(rate, frames, read, what)


def _from_audio_array(array, sampling_rate, what):
    if array.dtype.kind not in "fi" or (array.dtype.kind == "i" and array.dtype not in _INT_SCALE):
        raise TypeError(f"{what} has dtype {array.dtype}; expected float32/float64 in -1..1, "
                        "int16 or int32 samples")
    if sampling_rate is None:
        raise ValueError(f"{what} is an array, so sampling_rate is required (e.g. sampling_rate=16000)")
    if array.ndim == 2:  # [time, channels] or [channels, time]: mix down
        array = array.mean(axis=1 if array.shape[1] <= array.shape[0] else 0)
    elif array.ndim != 1:
        raise ValueError(f"{what} has shape {array.shape}; expected [time] or [time, channels]")
    if array.dtype.kind == "i":
        array = array / _INT_SCALE[array.dtype]
    array = np.asarray(array, np.float32)
    _check_duration(len(array), sampling_rate, what)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} holds NaN or infinite samples")
    return AudioSource(sampling_rate, len(array), lambda a, b: array[a:b], what)


def to_audio_source(item, sampling_rate=None, what="audio"):
    """One recording in any accepted form -> :class:`AudioSource` (header checked, not decoded)."""
    import io as _io

    import soundfile

    if sampling_rate is not None and (isinstance(sampling_rate, bool)
                                      or not isinstance(sampling_rate, (int, np.integer))
                                      or sampling_rate < 1000):
        raise ValueError(f"sampling_rate must be an int >= 1000 (Hz), got {sampling_rate!r}")
    if isinstance(item, (str, os.PathLike)):
        path = _existing_file(item, what, "an audio file")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{what} ({path}) is empty (0 bytes)")
        return _from_sound_file(lambda: soundfile.SoundFile(path), f"{what} ({path})")
    if isinstance(item, (bytes, bytearray, memoryview)):
        data = bytes(item)
        if not data:
            raise ValueError(f"{what} is empty (0 bytes)")
        return _from_sound_file(lambda: soundfile.SoundFile(_io.BytesIO(data)), what)
    if isinstance(item, np.ndarray):
        return _from_audio_array(item, sampling_rate, what)
    raise TypeError(f"{what} has type {type(item).__name__}; expected a path, bytes, a numpy "
                    "array (with sampling_rate), or a list of these")


def to_audio_batch(audio, sampling_rate=None, argument="audio"):
    """Return (list of :class:`AudioSource`, was_a_list)."""
    if isinstance(audio, (list, tuple)):
        if not audio:
            raise ValueError(f"{argument} is an empty list; pass at least one recording")
        return [to_audio_source(x, sampling_rate, f"{argument}[{i}]") for i, x in enumerate(audio)], True
    return [to_audio_source(audio, sampling_rate, argument)], False


def to_text(item, what="text"):
    """One text: a str, or UTF-8 bytes; anything else is a TypeError."""
    if isinstance(item, (bytes, bytearray)):
        try:
            item = bytes(item).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{what} is not valid UTF-8: {err}") from None
    if not isinstance(item, str):
        raise TypeError(f"{what} has type {type(item).__name__}; expected a str (or UTF-8 bytes), "
                        "or a list of them")
    if len(item) > MAX_TEXT_CHARS:
        raise ValueError(f"{what} has {len(item)} characters, above the limit of {MAX_TEXT_CHARS} "
                         "(pipelines.inputs.MAX_TEXT_CHARS); split it into smaller texts")
    try:
        item.encode("utf-8")
    except UnicodeEncodeError as err:  # lone surrogates, e.g. from a bad decode upstream
        raise ValueError(f"{what} is not valid Unicode text (it cannot be encoded as UTF-8): "
                         f"{err}") from None
    return item


def to_text_batch(text, argument="text"):
    """Return (list of str, was_a_list)."""
    if isinstance(text, (list, tuple)):
        return [to_text(x, f"{argument}[{i}]") for i, x in enumerate(text)], True
    return [to_text(text, argument)], False


def split_lines(texts):
    """Texts -> (the non-blank stripped lines to translate, a plan to rebuild each text).

    Each line is translated on its own; its leading and trailing whitespace and the
    line breaks are put back as they were, so layout survives translation.
    """
    lines, plans = [], []
    for text in texts:
        plan = []
        for line in text.splitlines(keepends=True):
            body = line.rstrip("\r\n")
            core = body.strip()
            if core:
                start = body.index(core)
                plan.append((body[:start], len(lines), body[start + len(core):], line[len(body):]))
                lines.append(core)
            else:
                plan.append((line, None, "", ""))
        plans.append(plan)
    return lines, plans


def join_lines(plans, translations):
    """The inverse of :func:`split_lines` with each line replaced by its translation."""
    return ["".join(lead + (translations[i] if i is not None else "") + trail + end
                    for lead, i, trail, end in plan) for plan in plans]


# -- video ------------------------------------------------------------------------------
MAX_VIDEO_SECONDS = 4 * 3600  # longer inputs are refused from the header, before decoding


class VideoSource:
    """One video, decoded lazily: ``frames(fps, size)`` yields uint8 frames one at a time,
    so a long video is never held in memory whole."""

    def __init__(self, opener, what):
        self._opener, self.what = opener, what

    def frames(self, fps, size):
        """Iterate uint8 frames ``[size, size, 3]`` at ``fps`` frames per second."""
        return self._opener(fps, size)


def _check_video_header(info, what):
    width, height = info["width"] or 0, info["height"] or 0
    if width <= 0 or height <= 0:
        raise ValueError(f"{what} declares a frame size of {width}x{height}")
    _check_size(width, height, f"{what} (each frame)")
    if info["duration"] is not None and info["duration"] > MAX_VIDEO_SECONDS:
        raise ValueError(f"{what} lasts {info['duration']:.0f} s, above the limit of "
                         f"{MAX_VIDEO_SECONDS} s (pipelines.inputs.MAX_VIDEO_SECONDS); split it first")


def _from_video_array(array, what):
    if array.dtype != np.uint8:
        raise TypeError(f"{what} has dtype {array.dtype}; expected uint8 frames [T, H, W, 3]")
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"{what} has shape {array.shape}; expected uint8 frames [T, H, W, 3]")
    if 0 in array.shape:
        raise ValueError(f"{what} has shape {array.shape}: no frames or empty frames")
    _check_size(array.shape[2], array.shape[1], f"{what} (each frame)")

    def frames(fps, size):
        from tasks.video.io import resize_frame

        del fps  # an array is taken as already sampled at the rate asked for
        return (resize_frame(frame, size) for frame in array)

    return VideoSource(frames, what)


def to_video_source(item, what="video"):
    """One video in any accepted form -> :class:`VideoSource` (header checked, not decoded)."""
    from tasks.video.io import iter_frames, probe

    if isinstance(item, (str, os.PathLike)):
        path = _existing_file(item, what, "a video file")
        what = f"{what} ({path})"
        _check_video_header(probe(path, what), what)
        return VideoSource(lambda fps, size: (f for _, f in iter_frames(path, fps, None, size, what)), what)
    if isinstance(item, (bytes, bytearray, memoryview)):
        data = bytes(item)
        _check_video_header(probe(data, what), what)
        return VideoSource(lambda fps, size: (f for _, f in iter_frames(data, fps, None, size, what)), what)
    if isinstance(item, np.ndarray):
        return _from_video_array(item, what)
    raise TypeError(f"{what} has type {type(item).__name__}; expected a path, bytes, a uint8 "
                    "array [T, H, W, 3], or a list of these")


def to_video_batch(video, argument="video"):
    """Return (list of :class:`VideoSource`, was_a_list)."""
    if isinstance(video, (list, tuple)):
        if not video:
            raise ValueError(f"{argument} is an empty list")
        return [to_video_source(v, f"{argument}[{i}]") for i, v in enumerate(video)], True
    return [to_video_source(video, argument)], False
