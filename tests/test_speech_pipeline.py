"""pipelines.transcribe: input kinds, lists, long audio, timestamps, export, bad inputs."""

import io

import numpy as np
import pytest
import soundfile

import pipelines
from concurrency import in_threads_then_in_turn
from pipelines import inputs
from tasks.core.export import ExportedModel
from tasks.speech import streaming
from tasks.speech.data import load_audio
from tasks.speech.task import SpeechTask


@pytest.fixture(scope="module")
def clips(speech_examples):
    return [e["audio"] for e in speech_examples], [e["text"] for e in speech_examples]


def _wav_bytes(audio, rate, subtype="PCM_16", fmt="WAV"):
    buf = io.BytesIO()
    soundfile.write(buf, audio, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def test_paths_bytes_arrays_and_formats_agree(overfit_speech_task, clips):
    paths, texts = clips
    audio = load_audio(paths[0])
    outs = [
        pipelines.transcribe(paths[0], model=overfit_speech_task),
        pipelines.transcribe(open(paths[0], "rb").read(), model=overfit_speech_task),
        pipelines.transcribe(audio, sampling_rate=16000, model=overfit_speech_task),
        pipelines.transcribe((audio * 32767).astype(np.int16), sampling_rate=16000,
                             model=overfit_speech_task),
        pipelines.transcribe(np.stack([audio, audio], axis=1), sampling_rate=16000,
                             model=overfit_speech_task),
        pipelines.transcribe(_wav_bytes(audio, 16000, "PCM_16", "FLAC"), model=overfit_speech_task),
    ]
    assert outs == [texts[0]] * len(outs)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_other_sample_rates_are_resampled(overfit_speech_task, clips, rate):
    from scipy.signal import resample_poly

    paths, texts = clips
    audio = load_audio(paths[1])
    g = np.gcd(rate, 16000)
    moved = resample_poly(audio, rate // g, 16000 // g).astype(np.float32)
    if rate == 8000:  # telephone band: the overfit model need only stay close
        assert pipelines.transcribe(moved, sampling_rate=rate, model=overfit_speech_task)
    else:
        assert pipelines.transcribe(moved, sampling_rate=rate, model=overfit_speech_task) == texts[1]


def test_list_in_list_out_as_one_batch(overfit_speech_task, clips):
    paths, texts = clips
    out = pipelines.transcribe(paths, model=overfit_speech_task)
    assert out == texts
    assert pipelines.transcribe(tuple(paths[:1]), model=overfit_speech_task) == texts[:1]


def test_silence_gives_an_empty_transcript(overfit_speech_task):
    assert pipelines.transcribe(np.zeros(16000, np.float32), sampling_rate=16000,
                                model=overfit_speech_task) == ""


def test_word_timestamps(overfit_speech_task, clips):
    paths, texts = clips
    out = pipelines.transcribe(paths[1], model=overfit_speech_task, return_timestamps="word")
    assert out["text"] == texts[1]
    assert [w["word"] for w in out["words"]] == texts[1].split()
    duration = len(load_audio(paths[1])) / 16000
    times = [t for w in out["words"] for t in (w["start"], w["end"])]
    assert times == sorted(times) and 0 <= times[0] and times[-1] <= duration + 0.05
    assert all(0.5 < w["confidence"] <= 1.0 for w in out["words"]), out["words"]  # it knows them


class FrameEcho:
    """A stand-in acoustic model whose output frame j names the block j of its input: 40 ms
    blocks like the convolutional models, 20 ms like those on Whisper's encoder, or 40 ms on
    Whisper's encoder with its frames stacked in pairs (pool 2)."""

    frame_seconds, valid_frames, uses_whisper, pool = (
        SpeechTask.frame_seconds, SpeechTask.valid_frames, SpeechTask.uses_whisper,
        SpeechTask.pool)

    def __init__(self, architecture="bigru", pool=1):
        self.config = {"architecture": architecture, "options": {"pool": pool}}

    def use_jit(self):
        return False

    def logits(self, audio, lengths, jit_compile=False):
        hop = int(self.frame_seconds() * 16000)
        steps = max(self.valid_frames(n) for n in lengths)
        centres = np.minimum(np.arange(steps) * hop + hop // 2, audio.shape[1] - 1)
        ids = np.rint(audio[:, centres] * 100).astype(int)
        return np.eye(32, dtype=np.float32)[ids] * 10

    def clip_logits(self, audio, lengths):
        return self.logits(audio, lengths)


@pytest.mark.parametrize("blocks,architecture,pool", [
    (7, "bigru", 1), (400, "bigru", 1), (1234, "bigru", 1), (1234, "whisper_bigru", 1),
    (1234, "whisper_bigru", 2)])
def test_windows_join_into_every_frame_once(monkeypatch, blocks, architecture, pool):
    """Seams neither lose nor double a frame: the stitched frames are the recording's frames."""
    monkeypatch.setattr(streaming, "WINDOW_SECONDS", 4.0)
    monkeypatch.setattr(streaming, "CONTEXT_SECONDS", 0.8)
    model = FrameEcho(architecture, pool)
    ids = np.random.default_rng(blocks).integers(1, 30, blocks)
    audio = np.repeat(ids / 100.0, int(model.frame_seconds() * 16000)).astype(np.float32)
    source = inputs.to_audio_source(audio, 16000)
    logits = streaming.stitched_logits(model, [source])[0]
    assert logits.argmax(-1).tolist() == ids.tolist()


class FixedShapeEcho(FrameEcho):
    """FrameEcho that asks for XLA and records the batches it is given."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def use_jit(self):
        return True

    def logits(self, audio, lengths, jit_compile=False):
        self.calls.append((audio.shape, jit_compile))
        return super().logits(audio, lengths)


def test_long_recordings_run_compiled_at_one_shape_and_short_clips_do_not(monkeypatch):
    """Windows of long recordings go to XLA in batches of one shape (a short last batch
    filled up, its extra rows dropped): the frames are still the recording's, each once."""
    monkeypatch.setattr(streaming, "WINDOW_SECONDS", 4.0)
    monkeypatch.setattr(streaming, "CONTEXT_SECONDS", 0.8)
    rng = np.random.default_rng(5)
    ids = [rng.integers(1, 30, n) for n in (1234, 700)]
    sources = [inputs.to_audio_source(np.repeat(i / 100.0, 640).astype(np.float32), 16000) for i in ids]
    model = FixedShapeEcho()
    logits = streaming.stitched_logits(model, sources)
    assert [x.argmax(-1).tolist() for x in logits] == [i.tolist() for i in ids]
    assert len(model.calls) > 2 and set(model.calls) == {((streaming.WINDOWS_PER_BATCH, 64000), True)}
    model = FixedShapeEcho()  # 20 clips of one window each: never padded to a window
    clips = [inputs.to_audio_source(np.repeat(i[:50] / 100.0, 640).astype(np.float32), 16000)
             for i in ids * 10]
    logits = streaming.stitched_logits(model, clips)
    assert [x.argmax(-1).tolist() for x in logits] == [i[:50].tolist() for i in ids * 10]
    assert {jit for _, jit in model.calls} == {False} and all(s[1] == 32000 for s, _ in model.calls)


def test_exported_model_serves_wav_bytes_in_stock_tensorflow(overfit_speech_task, exported_speech_dir,
                                                             clips, stock_tf):
    paths, _ = clips
    out = stock_tf.serve("--speech", exported_speech_dir, *paths)
    assert out["modules"] == []
    assert out["signatures"] == ["serving_default", "transcribe_waveform"]
    assert out["inputs"] == {"audio": ["string", [None]]}
    expected = pipelines.transcribe(paths, model=overfit_speech_task)
    assert out["bytes"] == expected
    assert out["bytes_one"] == expected[:1]  # a second batch size


def test_exported_model_through_the_pipeline(exported_speech_dir, clips, overfit_speech_task):
    paths, _ = clips
    exported = ExportedModel(exported_speech_dir)
    assert set(exported.signatures) == {"serving_default", "transcribe_waveform"}
    assert (pipelines.transcribe(paths, model=exported_speech_dir)
            == pipelines.transcribe(paths, model=overfit_speech_task))
    with pytest.raises(ValueError, match="beam_width"):
        pipelines.transcribe(paths[0], model=exported_speech_dir, beam_width=4)


# -- bad inputs: one test per kind --------------------------------------------------------

def test_missing_file(tmp_path, overfit_speech_task):
    with pytest.raises(ValueError, match=r"audio: file .* does not exist"):
        pipelines.transcribe(str(tmp_path / "nope.wav"), model=overfit_speech_task)


def test_empty_file_and_bytes(tmp_path, overfit_speech_task):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        pipelines.transcribe(str(tmp_path / "empty.wav"), model=overfit_speech_task)
    with pytest.raises(ValueError, match=r"audio is empty"):
        pipelines.transcribe(b"", model=overfit_speech_task)


def test_zero_length_audio(overfit_speech_task):
    with pytest.raises(ValueError, match="zero samples"):
        pipelines.transcribe(np.zeros(0, np.float32), sampling_rate=16000, model=overfit_speech_task)
    with pytest.raises(ValueError, match="zero samples"):
        pipelines.transcribe(_wav_bytes(np.zeros(0, np.float32), 16000), model=overfit_speech_task)


def test_non_audio_bytes(overfit_speech_task):
    with pytest.raises(ValueError, match="not an audio file"):
        pipelines.transcribe(b"GIF89a this is no sound" * 10, model=overfit_speech_task)


def test_truncated_wav(overfit_speech_task, clips):
    data = open(clips[0][0], "rb").read()
    with pytest.raises(ValueError, match="audio"):
        pipelines.transcribe(data[:30], model=overfit_speech_task)


def test_nan_and_inf_samples(overfit_speech_task):
    for bad in (np.nan, np.inf):
        audio = np.zeros(16000, np.float32)
        audio[100] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            pipelines.transcribe(audio, sampling_rate=16000, model=overfit_speech_task)


def test_wrong_rank(overfit_speech_task):
    with pytest.raises(ValueError, match=r"audio has shape \(2, 3, 4\)"):
        pipelines.transcribe(np.zeros((2, 3, 4), np.float32), sampling_rate=16000,
                             model=overfit_speech_task)


def test_wrong_dtype(overfit_speech_task):
    with pytest.raises(TypeError, match="dtype uint8"):
        pipelines.transcribe(np.zeros(16000, np.uint8), sampling_rate=16000, model=overfit_speech_task)
    with pytest.raises(TypeError, match="audio has type int"):
        pipelines.transcribe(5, model=overfit_speech_task)
    with pytest.raises(TypeError, match=r"audio\[1\] has type dict"):
        pipelines.transcribe([np.zeros(100, np.float32), {}], sampling_rate=16000,
                             model=overfit_speech_task)


def test_array_without_sampling_rate(overfit_speech_task):
    with pytest.raises(ValueError, match="sampling_rate is required"):
        pipelines.transcribe(np.zeros(16000, np.float32), model=overfit_speech_task)
    with pytest.raises(ValueError, match="sampling_rate must be"):
        pipelines.transcribe(np.zeros(16000, np.float32), sampling_rate=0, model=overfit_speech_task)


def test_too_long_is_refused_from_the_header(overfit_speech_task, monkeypatch, clips):
    monkeypatch.setattr(inputs, "MAX_AUDIO_SECONDS", 0.5)
    with pytest.raises(ValueError, match="above the limit"):
        pipelines.transcribe(clips[0][0], model=overfit_speech_task)
    with pytest.raises(ValueError, match="above the limit"):
        pipelines.transcribe(np.zeros(16000, np.float32), sampling_rate=16000,
                             model=overfit_speech_task)


def test_bad_options(overfit_speech_task, clips):
    with pytest.raises(ValueError, match="beam_width"):
        pipelines.transcribe(clips[0][0], model=overfit_speech_task, beam_width=0)
    with pytest.raises(ValueError, match="return_timestamps"):
        pipelines.transcribe(clips[0][0], model=overfit_speech_task, return_timestamps="char")
    with pytest.raises(ValueError, match="empty list"):
        pipelines.transcribe([], model=overfit_speech_task)


@pytest.mark.parametrize("compile_after", [None, 0.0], ids=["default", "compiled-at-once"])
def test_eight_threads_give_the_sequential_results_and_load_once(saved_speech_dir, clips,
                                                                 monkeypatch, compile_after):
    """Also with clips compiled from their second call on (JIT_AFTER_SECONDS 0): threads
    reach the XLA path, and its first compile, at once."""
    if compile_after is not None:
        from tasks.speech import task as speech_task

        monkeypatch.setattr(speech_task, "JIT_AFTER_SECONDS", compile_after)
    paths = (clips[0] * 2)[:8]
    threaded, sequential, loads = in_threads_then_in_turn(
        monkeypatch, lambda p: pipelines.transcribe(p, model=saved_speech_dir), paths)
    assert threaded == sequential and loads == 1
    from pipelines.models import MODELS

    compiled = MODELS.get("transcribe", saved_speech_dir).clip_compile_policy().compiled_shapes()
    assert bool(compiled) == (compile_after is not None)
