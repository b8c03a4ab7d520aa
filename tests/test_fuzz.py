"""The shared fuzz harness (pipelines/fuzz.py) at CI scale: every pipeline gives a
result or a clear ValueError/TypeError naming its argument, for every seeded hostile
input. README's reliability section has the long runs."""

import json
import struct

import numpy as np
import pytest

from pipelines import fuzz

CASES = {"caption": 300, "transcribe": 200, "translate": 30, "stylize": 100, "stylize_style": 100,
         "annotate_video": 100}


@pytest.mark.parametrize("pipeline", sorted(CASES))
def test_pipeline_keeps_its_input_contract(pipeline):
    report = fuzz.run(pipeline, CASES[pipeline], seed=1, timeout=120)
    assert report["cases"] == CASES[pipeline]
    assert report["violations"] == [], report
    # the harness must exercise both outcomes, or it tests nothing
    assert report["results"] > 0 and report["clear_errors"] > 0, report


def test_boundaries_find_the_structure_of_each_format():
    png, jpeg = fuzz.samples("caption")[-1], fuzz.samples("caption")[0]
    wav = fuzz.samples("transcribe")[0]
    assert {8, 12, 16, 33} <= set(fuzz.boundaries(png))  # signature, IHDR, its end
    assert 2 in fuzz.boundaries(jpeg) and len(fuzz.boundaries(jpeg)) > 10  # markers
    assert {12, 20, 36} <= set(fuzz.boundaries(wav))  # fmt and data chunk headers
    mp4 = fuzz.samples("annotate_video")[0]
    size = struct.unpack(">I", mp4[:4])[0]
    assert {0, 4, 8, size, size + 4} <= set(fuzz.boundaries(mp4))  # ftyp, then the next box


def test_huge_headers_declare_absurd_sizes_in_small_files():
    png = fuzz.samples("caption")[-1]
    widths = {struct.unpack(">I", v[16:20])[0] for v in fuzz.huge_headers(png)}
    assert 0x7FFFFFFF in widths and all(len(v) == len(png) for v in fuzz.huge_headers(png))
    wav = fuzz.samples("transcribe")[0]
    assert any(v[4:8] == b"\xff\xff\xff\xff" for v in fuzz.huge_headers(wav))
    mp4 = fuzz.samples("annotate_video")[0]
    at = mp4.find(b"avc1")
    assert (65535, 65535) in {struct.unpack(">HH", v[at + 28:at + 32]) for v in fuzz.huge_headers(mp4)}


def _fingerprint(value):
    if isinstance(value, (bytes, str)):
        return value
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape, value.tobytes()
    return type(value).__name__


@pytest.mark.parametrize("pipeline", sorted(CASES))
def test_cases_are_seeded(pipeline):
    def draw(seed):
        return [(d, _fingerprint(v)) for d, v in fuzz.cases(pipeline, 40, seed=seed)]

    assert draw(3) == draw(3) and draw(3) != draw(4)


def test_a_broken_promise_is_reported(monkeypatch):
    def crash(pipeline, value):
        raise RuntimeError("boom")

    monkeypatch.setattr(fuzz, "_call", crash)
    report = fuzz.run("translate", 3, seed=0)
    assert len(report["violations"]) == 3 and "RuntimeError: boom" in report["violations"][0]["error"]


def test_disjoint_parts_merge_into_the_whole_run(monkeypatch):
    def judge(pipeline, value):  # cheap and deterministic, so the outcomes can be compared
        if isinstance(value, bytes):
            raise RuntimeError("bytes")
        if isinstance(value, str) and len(value) % 2:
            raise ValueError("odd text")
        return "ok"

    monkeypatch.setattr(fuzz, "_call", judge)
    whole = fuzz.run("translate", 60, seed=2)
    parts = fuzz.merge([fuzz.run("translate", 60, seed=2, shard=(k, 3)) for k in range(3)])
    drop = ("slowest_s",)
    assert {k: v for k, v in parts.items() if k not in drop} == \
        {k: v for k, v in whole.items() if k not in drop}
    assert whole["violations"] and whole["clear_errors"] and whole["results"]
    tail = fuzz.run("translate", 60, seed=2, start=45)
    assert tail["cases"] == 15
    assert tail["violations"] == [v for v in whole["violations"] if v["case"] >= 45]
    head = fuzz.run("translate", 45, seed=2)  # the same sequence, cut: the parts of a split run
    assert head["cases"] + tail["cases"] == whole["cases"]
    with pytest.raises(ValueError, match="shard"):
        fuzz.run("translate", 5, shard=(3, 3))
    with pytest.raises(ValueError, match="reports"):
        fuzz.merge([whole, {**whole, "pipeline": "caption"}])


def test_the_command_line_merges_part_files(tmp_path, capsys):
    part = {"pipeline": "translate", "cases": 2, "results": 1, "clear_errors": 1,
            "slowest_s": 0.5, "violations": [{"case": 7, "input": "x", "error": "E"}]}
    (tmp_path / "a.json").write_text(json.dumps([part]))
    (tmp_path / "b.json").write_text(json.dumps([{**part, "slowest_s": 0.9, "violations": []}]))
    assert fuzz.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"]) == 1
    merged = json.loads(capsys.readouterr().out)
    assert merged == [{"pipeline": "translate", "cases": 4, "results": 2, "clear_errors": 2,
                       "slowest_s": 0.9, "violations": part["violations"]}]
    with pytest.raises(SystemExit):
        fuzz.main(["translate", "--merge", str(tmp_path / "a.json")])


def test_worker_processes_run_the_real_pipeline():
    one = fuzz.run("caption", 6, seed=5)
    two = fuzz.run_parallel("caption", 6, seed=5, workers=2)
    assert two["cases"] == 6 and two["violations"] == []
    assert (two["results"], two["clear_errors"]) == (one["results"], one["clear_errors"])


# -- the bugs the harness found, pinned --------------------------------------------------
def test_an_image_cut_inside_its_header_is_a_value_error():
    import pipelines

    jpeg = fuzz.samples("caption")[0]
    for cut in (2, 20, 300):
        with pytest.raises(ValueError, match="image"):
            pipelines.caption(jpeg[:cut])


def test_a_graph_decode_failure_becomes_a_value_error(monkeypatch):
    import tensorflow as tf

    import pipelines

    class Refusing:
        def caption(self, batch, **options):
            raise tf.errors.InvalidArgumentError(None, None, "jpeg::Uncompress failed. Invalid JPEG")

    monkeypatch.setattr(pipelines.MODELS, "get", lambda verb, model=None: Refusing())
    with pytest.raises(ValueError, match="image holds corrupt data.*jpeg::Uncompress"):
        pipelines.caption(fuzz.samples("caption")[0])


def test_texts_of_control_characters_and_lone_surrogates():
    import pipelines

    assert pipelines.translate(["\x16", "\x00\x01", "Open"])[:2] == ["", ""]
    with pytest.raises(ValueError, match="text is not valid Unicode"):
        pipelines.translate("abc\ud800")


def test_a_video_in_a_codec_ffmpeg_cannot_decode_is_a_value_error():
    """Found by the 10,000-case run: a damaged codec tag (mp4 'avc1', avi 'FMP4') leaves the
    stream without a codec context, and probing its frame size raised AttributeError."""
    import pipelines

    mp4, _, avi = fuzz.samples("annotate_video")
    for data, tag in ((mp4, b"avc1"), (avi, b"FMP4")):
        assert tag in data
        with pytest.raises(ValueError, match="video holds a video stream in a codec FFmpeg cannot decode"):
            # the header is checked before any model loads
            pipelines.annotate_video(data.replace(tag, b"zzzz"))
