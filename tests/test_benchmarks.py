import contextlib
import io
import json
import os
import subprocess
import sys

from tests.scripts import load_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _quick(name, *args):
    """Run ``benchmarks/<name>.py --quick [args]``'s ``main`` in this process and return the
    JSON it prints. In-process: a fresh interpreter would pay TensorFlow's import (5-7 s of
    CPU) again for each benchmark; ``python benchmarks/<name>.py`` only adds the argv."""
    module = load_script(os.path.join("benchmarks", f"{name}.py"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        module.main(["--quick", *args])
    text = printed.getvalue()
    return json.loads(text[text.index("{"):])


def test_captioning_benchmark_quick_prints_all_figures():
    result = _quick("captioning")
    assert "train_examples_per_s_jit_off" not in result  # --quick times the XLA step only
    for key in ("train_examples_per_s_jit_on", "tf_data_examples_per_s",
                "batch32_images_per_s_beam1"):
        assert result[key] > 0, key
    assert 0 < result["latency_ms_beam1"]["p50"] <= result["latency_ms_beam1"]["p95"]
    # the real-photo comparison is the full run's: tests/test_photo_captioner.py checks the
    # photo captioner on the same photos
    assert "real_photos" not in result


def test_speech_benchmark_quick_prints_all_figures():
    result = _quick("speech")
    assert "train_utterances_per_s_jit_off" not in result  # --quick times the XLA step only
    for key in ("train_utterances_per_s_jit_on", "tf_data_utterances_per_s", "rtf_5s_greedy",
                "rtf_5s_greedy_uncompiled", "rtf_5s_beam8", "batch_audio_seconds_per_s"):
        assert result[key] > 0, key
    # the long-file memory figure is the full run's (test_default_speech runs its child)
    assert "long_audio" not in result


def test_translation_benchmark_quick_prints_all_figures():
    result = _quick("translation")
    assert "train_tokens_per_s_jit_off" not in result  # --quick times the XLA step only
    for key in ("train_tokens_per_s_jit_on", "tf_data_pairs_per_s",
                "batch64_sentences_per_s_beam4", "batch64_sentences_per_s_beam1"):
        assert result[key] > 0, key
    assert 0 < result["latency_ms_beam4"]["p50"] <= result["latency_ms_beam4"]["p95"]
    assert 0 < result["xla_latency_ms_beam4"]["p50"] <= result["xla_latency_ms_beam4"]["p95"]
    assert result["xla_batch64_sentences_per_s_beam4"] > 0


def test_apertium_peer_reads_one_line_per_sentence(monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import translation as bench

    calls = []

    def fake_run(cmd, input, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout=input.upper())

    monkeypatch.setattr(bench.shutil, "which", lambda name: "/usr/bin/apertium")
    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    assert bench.apertium(["open file", "two\nlines"]) == ["OPEN FILE", "TWO LINES"]
    assert [c[-1] for c in calls] == ["eng-spa", "es-fr"]


def test_style_benchmark_quick_prints_all_figures():
    # under bfloat16: the float32 path is the same code with the policy switch left alone
    result = _quick("style", "--dtype-policy", "mixed_bfloat16")
    assert result["dtype_policy"] == "mixed_bfloat16"
    for key in ("train_images_per_s", "fps_64", "fps_128", "gatys_seconds", "speedup_over_gatys"):
        assert result[key] > 0, key
    # bfloat16 arithmetic moves the output only by rounding (the untrained fixed-style
    # network's output is flat: there it measured 0.0)
    assert 0 <= result["max_abs_diff_vs_float32"] < 0.1
    assert 0 < result["arbitrary"]["mean_abs_diff_vs_float32"] < 0.01
    memory = result["large_image"]
    assert memory["output"] == [256, 256]
    assert memory["peak_rss_mb"] >= memory["rss_after_load_mb"] > 0
    assert result["tiled_image"]["output"] == [320, 320] and result["tiled_image"]["tile"] == 128
    arbitrary = result["arbitrary"]
    for key in ("train_images_per_s", "fps_64", "fps_128", "speedup_over_gatys"):
        assert arbitrary[key] > 0, key
    slim = result["slim"]
    assert slim["model"] == "untrained (slim preset)"
    for key in ("distill_images_per_s", "fps_64", "fps_128", "speedup_over_gatys"):
        assert slim[key] > 0, key


def test_video_benchmark_quick_prints_all_figures():
    result = _quick("video")
    for key in ("train_clips_per_s", "decode_frames_per_s", "annotate_frames_per_s",
                "batch16_frames_per_s_beam1", "batch16_frames_per_s_beam3"):
        assert result[key] > 0, key
    # the long-video memory figure is the full run's (test_video_pipeline runs its child)
    assert "long_video" not in result


def test_a_child_process_peak_is_its_own_not_its_parents():
    """ru_maxrss of a subprocess starts at its parent's peak; the memory figures must not."""
    import numpy as np

    from tasks.core.memory import peak_rss_mb

    ballast = np.ones(400 * 2**20, np.uint8)  # make this process's peak at least 400 MB
    ballast[::4096] = 2
    code = "from tasks.core.memory import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True, cwd=ROOT).stdout)
    assert peak_rss_mb() >= 400 and 0 < child < 200, (peak_rss_mb(), child)
