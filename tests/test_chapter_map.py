"""The landing page's run-time columns: written from recorded measurements, never typed by hand."""

import copy
import pathlib
import subprocess
import sys
import types

import nbformat
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import chapter_map  # noqa: E402
import notebook_times  # noqa: E402

PAGE = chapter_map.LANDING_PAGE.read_text()
TOC_CHAPTERS = [f"{pathlib.Path(e['file']).name}.ipynb"
                for part in yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"] for e in part["chapters"]
                if e["file"].startswith("notebooks/")]


def _rows(text):
    """{notebook: (cpu cell, gpu cell)} for each chapter row of the map."""
    rows = {}
    for line in text.splitlines():
        match = chapter_map._ROW.match(line)
        if match:
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[f"{match['name']}.ipynb"] = (cells[-2], cells[-1].rstrip(" |"))
    return rows


def test_the_page_is_what_the_records_make_it():
    records = chapter_map.load_records()
    assert "cpu" in records, "no CPU record: run python benchmarks/notebook_times.py --full --record"
    assert chapter_map.render(PAGE, records) == PAGE, (
        "book/intro.md's time cells or their paragraph differ from benchmarks/results/: "
        "do not edit them by hand, run python benchmarks/notebook_times.py --full --record")


def test_every_chapter_has_a_row_and_a_measured_cpu_time():
    records = chapter_map.load_records()
    rows = _rows(PAGE)
    assert list(rows) == TOC_CHAPTERS
    assert sorted(records["cpu"]["seconds"]) == sorted(TOC_CHAPTERS)
    for name, (cpu, _) in rows.items():
        assert cpu == f"{records['cpu']['seconds'][name]:.0f} s"
        assert records["cpu"]["seconds"][name] > 0
    assert f"{sum(records['cpu']['seconds'].values()):.0f} s in all" in PAGE


def test_a_gpu_record_fills_the_gpu_column_and_leaves_the_cpu_one():
    records = chapter_map.load_records()
    gpu = copy.deepcopy(records["cpu"])
    gpu.update(column="gpu", device="GPU: a test card",
               seconds={name: seconds / 7 for name, seconds in gpu["seconds"].items()})
    page = chapter_map.render(PAGE, {"cpu": records["cpu"], "gpu": gpu})
    before, after = _rows(PAGE), _rows(page)
    for name in TOC_CHAPTERS:
        assert after[name] == (before[name][0], f"{gpu['seconds'][name]:.0f} s")
    assert "The GPU column was measured on" in page and "on GPU: a test card:" in page and "No GPU run has been recorded yet" not in page
    # Rendering is idempotent: a second run changes nothing.
    assert chapter_map.render(page, {"cpu": records["cpu"], "gpu": gpu}) == page


def test_without_records_every_cell_says_not_measured():
    rows = _rows(chapter_map.render(PAGE, {}))
    assert set(rows.values()) == {(chapter_map.NOT_MEASURED, chapter_map.NOT_MEASURED)}


def test_a_record_missing_a_chapter_is_refused():
    records = chapter_map.load_records()
    partial = copy.deepcopy(records["cpu"])
    del partial["seconds"][TOC_CHAPTERS[-1]]
    with pytest.raises(ValueError, match=f"no time for {TOC_CHAPTERS[-1]}: run the benchmark again"):
        chapter_map.render(PAGE, {"cpu": partial})


def test_a_page_without_the_block_is_refused():
    with pytest.raises(ValueError, match="expected chapter rows and one"):
        chapter_map.render(PAGE.replace(chapter_map.END, ""), {})


def test_record_needs_full_mode():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "notebook_times.py"), "--record"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "add --full" in result.stderr


def test_the_benchmark_reads_the_setup_line_the_chapters_print():
    from vae_helpers import notebook

    line = notebook.setup_line(types.SimpleNamespace(description="the bundled MNIST subset (test)"))
    executed = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_code_cell("print(notebook.setup_line(mnist))",
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]),
    ])
    report = notebook_times.setup_report(executed)
    assert report["data"] == "the bundled MNIST subset (test)"
    assert f"TensorFlow {__import__('tensorflow').__version__}," in report["versions"]
    gpus = __import__("tensorflow").config.list_physical_devices("GPU")
    assert report["device"].startswith("GPU" if gpus else "CPU only")
    with pytest.raises(RuntimeError, match="printed no setup line"):
        notebook_times.setup_report(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]))


def _planted(seconds):
    """A CPU record like the real one, with the chapter times `seconds`."""
    record = copy.deepcopy(chapter_map.load_records()["cpu"])
    record["seconds"] = seconds
    return record


def _spread(total, chapters=None):
    """{notebook: whole seconds} summing exactly to `total` over the page's chapters (or `chapters`), as
    evenly as whole seconds go: whole numbers, so the sum is not off the budget by a float's rounding."""
    chapters = list(_rows(PAGE)) if chapters is None else chapters
    share, extra = divmod(total, len(chapters))
    return {name: share + (i < extra) for i, name in enumerate(chapters)}


def test_a_chapter_over_its_budget_is_named():
    seconds = _spread(600)
    over = list(seconds)[-2]
    seconds[over] = 241
    assert chapter_map.budget_failures(_planted(seconds)) == [
        f"{over} took 241 s, over the 240 s budget of a chapter"]
    page = chapter_map.render(PAGE, {"cpu": _planted(seconds)})
    assert ("within the budget of 20 minutes for the build, but 1 chapter is over the budget of 4 minutes a chapter"
            in page)


def test_a_build_over_its_budget_is_flagged_though_every_chapter_is_within_its_own():
    seconds = _spread(1210)
    assert max(seconds.values()) <= chapter_map.CHAPTER_BUDGET_S and sum(seconds.values()) > chapter_map.BUILD_BUDGET_S
    assert chapter_map.budget_failures(_planted(seconds)) == [
        "the chapters took 1210 s in all, over the 1200 s budget of the build"]
    page = chapter_map.render(PAGE, {"cpu": _planted(seconds)})
    assert "1210 s in all, over the budget of 20 minutes for the build, though no chapter is over" in page


def test_a_record_within_both_budgets_has_no_failures():
    seconds = _spread(1200)  # at the build's budget, not over it
    assert max(seconds.values()) <= chapter_map.CHAPTER_BUDGET_S
    assert chapter_map.budget_failures(_planted(seconds)) == []
    page = chapter_map.render(PAGE, {"cpu": _planted(seconds)})
    assert "1200 s in all, within the budgets of 20 minutes for the build and 4 minutes a chapter." in page


def test_the_gpu_paragraph_says_nothing_of_budgets():
    gpu = _planted(_spread(5000))  # over both budgets, were a GPU column held to them
    gpu.update(column="gpu", device="GPU: a test card")
    page = chapter_map.render(PAGE, {"gpu": gpu})
    assert "on GPU: a test card: 5000 s in all. Data:" in page and "budget" not in page


@pytest.mark.parametrize("record", [
    {"column": "cpu"},
    {"column": "cpu", "seconds": [34.1]},
    {"column": "cpu", "seconds": {}},
    {"column": "cpu", "seconds": {"01_marginal_likelihood.ipynb": 0}},
    {"column": "cpu", "seconds": {"01_marginal_likelihood.ipynb": -3.0}},
    {"column": "cpu", "seconds": {"01_marginal_likelihood.ipynb": "34.1"}},
    {"column": "cpu", "seconds": {"01_marginal_likelihood.ipynb": float("nan")}},
    {"column": "cpu", "seconds": {"01_marginal_likelihood.ipynb": None}},
], ids=["no seconds", "a list", "empty", "zero", "negative", "a string", "nan", "none"])
def test_a_malformed_record_is_refused_with_the_command_that_re_records_it(record):
    with pytest.raises(ValueError, match=r"chapter_times_cpu\.json.*re-record it with "
                                         r"`python benchmarks/notebook_times\.py --full --record`"):
        chapter_map.budget_failures(record)


def test_the_benchmark_refuses_to_save_into_a_directory_with_files(tmp_path):
    (tmp_path / "notes.txt").write_text("someone's")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "notebook_times.py"),
                             "--save", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "exists and is not an empty directory" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_benchmark_says_the_budgets_after_a_full_table():
    within = list(_spread(1000, [f"{i:02d}_chapter.ipynb" for i in range(1, 11)]).items())
    assert notebook_times.budget_lines(within) == [
        "within budget: 1000 s in all (budget 1200 s), no chapter over 240 s"]
    over = within[:-1] + [("10_chapter.ipynb", 300.0)]
    assert notebook_times.budget_lines(over) == [
        "over budget: 10_chapter.ipynb took 300 s, over the 240 s budget of a chapter"]


def test_the_recorded_cpu_build_is_within_budget():
    record = chapter_map.load_records()["cpu"]
    failures = chapter_map.budget_failures(record)
    assert failures == [], "; ".join(failures) + (
        f" (benchmarks/results/chapter_times_cpu.json, measured {record['date']})")
