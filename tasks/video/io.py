"""Video files in and out with PyAV: probe the header, stream frames, write clips.

Reading is streaming: :func:`iter_frames` decodes one frame at a time, keeps only those
that fall on the target frame rate, resizes each at once and stops at ``max_frames``, so
a long video is never held in memory whole. :func:`read_video` collects that stream into
one array for short clips. :func:`probe` reads only the container header (frame rate,
duration, frame count, size): what a size limit needs before any decoding.

Any of mp4 / webm / mkv / avi (and whatever else FFmpeg reads) goes in; :func:`write_video`
picks a codec from the file extension (H.264 for mp4/mkv, VP9 for webm, MPEG-4 part 2
for avi).

Example:
    >>> write_video("/tmp/clip.mp4", np.zeros([16, 64, 64, 3], np.uint8), fps=8)
    '/tmp/clip.mp4'
    >>> frames, times = read_video("/tmp/clip.mp4", fps=4, size=32)
    >>> frames.shape, times[:3]
    ((8, 32, 32, 3), array([0.  , 0.25, 0.5 ]))
"""

import io
import os
from fractions import Fraction

import numpy as np

CODECS = {".mp4": ("libx264", "yuv420p"), ".mkv": ("libx264", "yuv420p"),
          ".webm": ("libvpx-vp9", "yuv420p"), ".avi": ("mpeg4", "yuv420p"),
          ".mov": ("libx264", "yuv420p")}


_THREADED_DECODE_PIXELS = 640 * 360


def _av():
    try:
        import av
    except ImportError as e:  # an optional extra: only video needs it
        raise ImportError("video I/O needs PyAV: pip install 'av>=14'") from e
    return av


def _open(source, argument):
    """A path, bytes or a binary file object -> an open PyAV input container."""
    av = _av()
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ValueError(f"{argument} is empty (0 bytes); expected an encoded video")
        source = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ValueError(f"{argument}={path!r} is not a file")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{argument}={path!r} is empty (0 bytes); expected a video file")
    elif not hasattr(source, "read"):
        raise TypeError(f"{argument} must be a path, bytes or a binary file, got "
                        f"{type(source).__name__}")
    try:
        container = av.open(source, mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise ValueError(f"{argument} is not a readable video: {e}") from e
    if not container.streams.video:
        container.close()
        raise ValueError(f"{argument} holds no video stream")
    if container.streams.video[0].codec_context is None:
        # e.g. a damaged codec tag: the container parses but FFmpeg has no decoder for it
        container.close()
        raise ValueError(f"{argument} holds a video stream in a codec FFmpeg cannot decode")
    return container


def probe(source, argument="video"):
    """Header facts, without decoding: ``{"fps", "duration", "frames", "width", "height",
    "codec"}``. ``frames`` and ``duration`` are the container's claims (0 / None when it
    does not say); decoding may find fewer."""
    container = _open(source, argument)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        frames = int(stream.frames or 0)
        if not frames and duration and rate:
            frames = int(round(duration * float(rate)))
        return {"fps": float(rate) if rate else None, "duration": duration, "frames": frames,
                "width": stream.codec_context.width, "height": stream.codec_context.height,
                "codec": stream.codec_context.name}
    finally:
        container.close()


def _size(size):
    if size is None:
        return None
    if isinstance(size, int):
        size = (size, size)
    if (len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size)):
        raise ValueError(f"size must be a positive int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def resize_frame(frame, size):
    """uint8 [H, W, 3] -> [size, size, 3] or [height, width, 3] (Pillow, bilinear with
    antialiasing). The one resize used for training clips, decoded videos and arrays alike."""
    height, width = _size(size)
    if frame.shape[:2] == (height, width):
        return frame
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))


def iter_frames(source, fps=None, max_frames=None, size=None, argument="video"):
    """Yield ``(time in seconds, uint8 [H, W, 3])`` one decoded frame at a time.

    ``fps``: keep the first frame at or after each tick of ``1 / fps`` (never more
    frames than the file has); None keeps every frame. ``size``: int or (height, width)
    to resize to. ``max_frames``: stop after that many. A file that cannot be decoded
    part-way raises ValueError naming ``argument``.
    """
    if fps is not None and not (isinstance(fps, (int, float)) and 0 < fps <= 1000):
        raise ValueError(f"fps must be a number in (0, 1000], got {fps!r}")
    if max_frames is not None and not (isinstance(max_frames, int) and max_frames > 0):
        raise ValueError(f"max_frames must be a positive int, got {max_frames!r}")
    size = _size(size)
    av = _av()
    container = _open(source, argument)
    try:
        stream = container.streams.video[0]
        context = stream.codec_context
        if (context.width or 0) * (context.height or 0) >= _THREADED_DECODE_PIXELS:
            # frame threads pay off on big frames; on small clips starting them cost more
            # than the decoding (64x64 clips: 2x slower with them)
            stream.thread_type = "AUTO"
        # one reformatter for the whole stream: it keeps its swscale context, where
        # frame.to_ndarray(format=...) builds a new one per frame (3x slower at 64x64)
        to_rgb = av.video.reformatter.VideoReformatter()
        start, next_tick, count = None, 0.0, 0
        try:
            for frame in container.decode(stream):
                time = frame.time if frame.time is not None else count / float(stream.average_rate or 1)
                start = time if start is None else start
                time -= start
                if fps is not None:
                    if time + 1e-6 < next_tick:
                        continue
                    next_tick = (int(round(time * fps, 6)) + 1) / fps
                array = to_rgb.reformat(frame, format="rgb24").to_ndarray()
                yield time, array if size is None else resize_frame(array, size)
                count += 1
                if max_frames is not None and count >= max_frames:
                    return
        except av.error.FFmpegError as e:
            raise ValueError(f"{argument} could not be decoded after {count} frames: {e}") from e
    finally:
        container.close()


def read_video(source, fps=None, max_frames=None, size=None, argument="video"):
    """Decode a (short) video into ``(uint8 [T, H, W, 3], float times [T])``.

    Raises ValueError when no frame decodes. See :func:`iter_frames` for the options;
    for long videos iterate that instead.
    """
    frames, times = [], []
    for time, frame in iter_frames(source, fps, max_frames, size, argument):
        frames.append(frame)
        times.append(time)
    if not frames:
        raise ValueError(f"{argument} has no decodable frames")
    return np.stack(frames), np.asarray(times, np.float64)


def write_video(path, frames, fps, codec=None, quality=None):
    """Write uint8 frames ``[T, H, W, 3]`` (an array or any iterable of frames) to
    ``path``; the codec follows the extension unless given. ``quality``: the encoder's
    constant-rate factor (lower is better; H.264 default 20). Returns ``path``."""
    av = _av()
    extension = os.path.splitext(path)[1].lower()
    if codec is None:
        if extension not in CODECS:
            raise ValueError(f"path={path!r}: unknown video extension; expected one of "
                             f"{sorted(CODECS)} or pass codec=")
        codec, pixel_format = CODECS[extension]
    else:
        pixel_format = "yuv420p"
    if not (isinstance(fps, (int, float, Fraction)) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    written = 0
    # bitexact: no random segment ids or encoder versions in the container. The encoders
    # are not byte-stable under load all the same (libx264 gave another stream about one
    # run in fifty), so inputs that must replay byte for byte are committed files
    with av.open(path, mode="w", options={"fflags": "+bitexact"}) as container:
        stream = None
        for frame in frames:
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"frames must be uint8 [T, H, W, 3], got a frame of "
                                 f"{frame.dtype} {frame.shape}")
            if stream is None:
                height, width = frame.shape[:2]
                if pixel_format == "yuv420p" and (height % 2 or width % 2):
                    raise ValueError(f"frames must have even height and width for {codec}, "
                                     f"got {height}x{width}")
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
                options = {"crf": str(20 if quality is None else quality)}
                if codec == "libvpx-vp9":
                    options["b:v"] = "0"
                if codec == "mpeg4":
                    options = {"qscale": str(3 if quality is None else quality)}
                stream.options = options
            elif frame.shape[:2] != (stream.height, stream.width):
                raise ValueError(f"all frames must have one size; got {frame.shape[:2]} after "
                                 f"{(stream.height, stream.width)}")
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            written += 1
        if stream is None:
            raise ValueError("frames is empty; a video needs at least one frame")
        for packet in stream.encode():
            container.mux(packet)
    return path


__all__ = ["probe", "resize_frame", "iter_frames", "read_video", "write_video", "CODECS"]
