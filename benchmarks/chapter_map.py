"""The run-time columns of the landing page's chapter map, written from recorded measurements.

`notebook_times.py --full --record` saves one record per device kind (results/chapter_times_cpu.json,
results/chapter_times_gpu.json) and calls `update_landing_page`, which rewrites the two time cells
of every chapter row in book/intro.md and the paragraph that says where they were measured. Nothing
in those cells is typed by hand; tests/test_book.py checks the page against the records.
`full_size_rehearsal.py --record` saves results/full_size_rehearsal_cpu.json, the projected time of
the full-MNIST build, which the same block states after the measured times.

A record:
    {"column": "cpu" | "gpu", "device": "...", "data": "...", "tensorflow": "2.21.0",
     "date": "2026-11-30", "seconds": {"01_marginal_likelihood.ipynb": 33.1, ...}}
"""

import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LANDING_PAGE = ROOT / "book" / "intro.md"
COLUMNS = ("cpu", "gpu")
NOT_MEASURED = "not yet measured"
BEGIN = "<!-- chapter-times: written by benchmarks/notebook_times.py --full --record -->"
END = "<!-- /chapter-times -->"
_ROW = re.compile(r"^\|.*<\.\./notebooks/(?P<name>[^>]+)>.*\|$")
FULL_SIZE = "full_size"
"""The key of the full-size rehearsal's record among the records."""


def record_path(column):
    return RESULTS / f"chapter_times_{column}.json"


def load_records():
    """{column: record} for each device kind that has been measured, and {FULL_SIZE: record} once
    the full-size build has been rehearsed."""
    records = {c: json.loads(record_path(c).read_text()) for c in COLUMNS if record_path(c).exists()}
    if full_size_path().exists():
        records[FULL_SIZE] = json.loads(full_size_path().read_text())
    return records


def full_size_path():
    return RESULTS / "full_size_rehearsal_cpu.json"


def save_record(record):
    if record["column"] not in COLUMNS:
        raise ValueError(f"record column {record['column']!r} is not one of {COLUMNS}")
    RESULTS.mkdir(exist_ok=True)
    record_path(record["column"]).write_text(json.dumps(record, indent=2) + "\n")


def _cell(record, notebook):
    if record is None:
        return NOT_MEASURED
    if notebook not in record["seconds"]:
        raise ValueError(f"the {record['column']} record has no time for {notebook}: run the benchmark again")
    return f"{record['seconds'][notebook]:.0f} s"


def _where(column, record):
    name = column.upper()
    if record is None:
        return (f"No {name} run has been recorded yet: on a machine with one, "
                "`python benchmarks/notebook_times.py --full --record` fills its column.")
    total = sum(record["seconds"].values())
    return (f"The {name} column was measured on {record['date']} with TensorFlow {record['tensorflow']} on "
            f"{record['device']}: {total:.0f} s in all. Data: {record['data']}.")


def _full_size(record):
    projection = record["projection"]
    return (f"Full MNIST (60,000 / 10,000 images, {record['full_epochs']} epochs per model), as the published "
            f"book builds it, is projected to take at most about {projection['build_s'] / 60:.0f} min on "
            f"{record['device']} (timed in CPU seconds, which a quiet machine's clock does not exceed): "
            f"{projection['full_training_s'] / 60:.0f} min of training, "
            f"{record['evaluation']['full']['scaled_s'] / 60:.0f} min of chapter 7's evaluation"
            f" and {projection['other_s'] / 60:.0f} min for everything else. Projected on {record['date']} by "
            f"`python benchmarks/full_size_rehearsal.py --record` from one epoch of each of the book's "
            f"{len(record['runs'])} training runs and chapter 7's evaluation, timed at full size on "
            f"{record['data']}, beside the CPU column's measured times.")


def render(text, records):
    """`text` (the landing page) with its time cells and their provenance paragraph from `records`."""
    lines, rows = [], 0
    for line in text.split("\n"):
        match = _ROW.match(line)
        if match:
            cells = line.split(" | ")
            cells[-2] = _cell(records.get("cpu"), f"{match['name']}.ipynb")
            cells[-1] = _cell(records.get("gpu"), f"{match['name']}.ipynb") + " |"
            line, rows = " | ".join(cells), rows + 1
        lines.append(line)
    text = "\n".join(lines)
    if rows == 0 or text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"{LANDING_PAGE.name}: expected chapter rows and one {BEGIN} ... {END} block")
    paragraphs = [_where(c, records.get(c)) for c in COLUMNS]
    if FULL_SIZE in records:
        paragraphs.append(_full_size(records[FULL_SIZE]))
    paragraph = "\n\n".join(paragraphs)
    head, rest = text.split(BEGIN)
    return f"{head}{BEGIN}\n{paragraph}\n{END}{rest.split(END, 1)[1]}"


def update_landing_page():
    LANDING_PAGE.write_text(render(LANDING_PAGE.read_text(), load_records()))
