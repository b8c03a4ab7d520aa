"""Every notebook executes at small scale (PIPELINES_NOTEBOOK_SCALE=small) through the same
tool that makes the committed full-scale outputs (in an IPython shell in the test's process;
a Jupyter kernel gives the same outputs, checked on a small notebook), and the committed
notebooks are exactly what tools/make_notebooks.py generates."""

import glob
import os
import sys

import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_notebooks  # noqa: E402
import run_notebooks  # noqa: E402

NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


def test_there_are_notebooks():
    assert NOTEBOOKS and len(NOTEBOOKS) == len(make_notebooks.NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_executes_at_small_scale(path, tmp_path):
    name = os.path.basename(path)[:-6]
    run_notebooks.execute(name, "small", str(tmp_path), kernel=False)
    nb = nbformat.read(str(tmp_path / f"{name}.ipynb"), as_version=4)
    assert nb.metadata["pipelines_run"]["scale"] == "small"
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
               for o in outputs), "the notebook should draw its plots"
    committed = nbformat.read(path, as_version=4)
    assert [c.source for c in nb.cells] == [c.source for c in committed.cells]


def test_a_kernel_and_the_in_process_shell_record_the_same_outputs(monkeypatch):
    source = ["import matplotlib.pyplot as plt\nprint(6 * 7)\nplt.plot([1, 2]); plt.show()",
              "import os\nprint(os.environ['PIPELINES_NOTEBOOK_SCALE'], os.getcwd())"]
    monkeypatch.setenv("PIPELINES_NOTEBOOK_SCALE", "small")  # the kernel inherits it
    runs = []
    for run in (lambda nb: run_notebooks._run_in_kernel(nb, "tiny", 120, 0.0),
                run_notebooks._run_here):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in source])
        run(nb)
        run_notebooks.tidy_streams(nb)
        runs.append([[(o.output_type, o.get("text"), sorted(o.get("data", {})))
                      for o in c.outputs] for c in nb.cells])
    kernel, here = runs
    assert kernel == here
    assert here[0][0] == ("stream", "42\n", []) and here[0][1][0] == "display_data"
    assert "image/png" in here[0][1][2] and here[1] == [("stream", f"small {ROOT}\n", [])]


def test_a_failing_cell_stops_the_in_process_run_with_its_traceback():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("1 / 0"),
                                         nbformat.v4.new_code_cell("print('never')")])
    with pytest.raises(run_notebooks.NotebookError, match="(?s)cell 2 failed.*ZeroDivisionError"):
        run_notebooks._run_here(nb)
    assert nb.cells[2].get("outputs") == []


def test_the_in_process_run_leaves_this_process_able_to_spawn_workers():
    """The shell puts its namespace in sys.modules["__main__"]; left there, every later
    multiprocessing "spawn" in the worker failed (the fuzz harness, the corpus build)."""
    import multiprocessing

    main_module = sys.modules["__main__"]
    run_notebooks._run_here(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
    assert sys.modules["__main__"] is main_module
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(abs, (-3,)) == 3


def test_committed_notebooks_are_generated_and_regenerating_keeps_run_outputs(tmp_path):
    make_notebooks.main(str(tmp_path))
    for path in NOTEBOOKS:
        fresh = nbformat.read(str(tmp_path / os.path.basename(path)), as_version=4)
        committed = nbformat.read(path, as_version=4)
        assert [(c.id, c.source) for c in fresh.cells] == \
            [(c.id, c.source) for c in committed.cells], f"run tools/make_notebooks.py ({path})"
    # a run's outputs survive regeneration where the cell is unchanged, and only there
    target = str(tmp_path / "video_annotation.ipynb")
    nb = nbformat.read(target, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    shown = nbformat.v4.new_output("stream", name="stdout", text="measured\n")
    code[0].outputs, code[1].outputs = [shown], [shown]
    code[1].source += "\n# edited since the run"
    nb.metadata["pipelines_run"] = {"scale": "full", "seconds": 1.0}
    nbformat.write(nb, target)
    make_notebooks.main(str(tmp_path))
    again = nbformat.read(target, as_version=4)
    code = [c for c in again.cells if c.cell_type == "code"]
    assert code[0].outputs[0].text == "measured\n" and code[1].outputs == []
    assert again.metadata["pipelines_run"]["scale"] == "full"


def test_unknown_notebook_and_scale_are_refused():
    with pytest.raises(ValueError, match="name"):
        run_notebooks.execute("nope")
    with pytest.raises(ValueError, match="scale"):
        run_notebooks.execute("video_annotation", scale="huge")


def test_printed_streams_are_tidied_for_readers():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    stream = lambda text, name="stderr": nbformat.v4.new_output("stream", name=name, text=text)  # noqa: E731
    nb.cells[0].outputs = [
        stream("I0000 00:00:1796145294.846217   31268 port.cc:153] oneDNN custom operations\n"),
        stream("\rclips:   0%|          | 0/4"), stream("\rclips:  50%|#####     | 2/4"),
        stream("\rclips: 100%|##########| 4/4\n"),
        stream("trained\n", "stdout"),
        nbformat.v4.new_output("display_data", data={"image/png": "AAAA"}),
        stream("/x/tqdm/auto.py:21: TqdmWarning: IProgress not found. Please update jupyter\n"
               "  from .autonotebook import tqdm as notebook_tqdm\n"
               "INFO:tensorflow:Assets written to: /tmp/export/assets\n"
               "WARNING:tensorflow:5 out of the last 11 calls to <function f at 0x7f> triggered "
               "tf.function retracing. Tracing is expensive\n"
               "/x/keras/a.py:9: UserWarning: something a reader should see\n"
               "  source line\n"),
    ]
    run_notebooks.tidy_streams(nb)
    kinds = [(o.output_type, o.get("text")) for o in nb.cells[0].outputs]
    assert kinds == [("stream", "clips: 100%|##########| 4/4\n"), ("stream", "trained\n"),
                     ("display_data", None),
                     ("stream", "/x/keras/a.py:9: UserWarning: something a reader should see\n"
                                "  source line\n")]
