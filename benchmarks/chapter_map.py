"""The run-time columns of the landing page's chapter map, written from recorded measurements.

`notebook_times.py --full --record` saves one record per device kind (results/chapter_times_cpu.json,
results/chapter_times_gpu.json) and calls `update_landing_page`, which rewrites the two time cells
of every chapter row in book/intro.md and the paragraph that says where they were measured. Nothing
in those cells is typed by hand; tests/test_chapter_map.py checks the page against the records.
`full_size_rehearsal.py --record` saves results/full_size_rehearsal_cpu.json, the projected time of
the full-MNIST build, which the same block states after the measured times.

The CPU record is also held to two budgets, CHAPTER_BUDGET_S and BUILD_BUDGET_S: `budget_failures`
says in sentences what is over them, the CPU paragraph says the verdict in words, and
tests/test_chapter_map.py fails while the recorded build is over budget.

A record:
    {"column": "cpu" | "gpu", "device": "...", "data": "...", "tensorflow": "2.21.0",
     "date": "2026-11-30", "seconds": {"01_marginal_likelihood.ipynb": 33.1, ...}}
"""

import json
import math
import numbers
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
CHAPTER_BUDGET_S = 240
"""No chapter over 4 minutes: what a lab session's patience, on Colab's CPU runtime, allows one chapter."""
BUILD_BUDGET_S = 1200
"""The whole full-mode build in 20 minutes, on the bundled data and 2 CPUs the CPU record is measured on."""
RERECORD = "python benchmarks/notebook_times.py --full --record"
"""The command that measures a record again, which a refusal of a malformed record names."""


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


def _seconds(record):
    """The record's {notebook: seconds}, refused with a ValueError naming the command that re-records
    it unless every time is a positive finite number (a bad record must not pass as within budget)."""
    column = record.get("column") if isinstance(record, dict) else None
    where = f"the {column} record ({record_path(column).relative_to(ROOT)})" if column in COLUMNS else "the record"
    seconds = record.get("seconds") if isinstance(record, dict) else None
    if not isinstance(seconds, dict) or not seconds:
        raise ValueError(f"{where} has no \"seconds\" dict of chapter times: re-record it with `{RERECORD}`")
    for notebook, value in seconds.items():
        # bool is a number to Python, not a time; NaN and infinity are no measurement either.
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{where} gives {notebook} the time {value!r}, not a positive number of "
                             f"seconds: re-record it with `{RERECORD}`")
    return seconds


def _overruns(record):
    """([(notebook, seconds)] of the chapters over CHAPTER_BUDGET_S, the total if it is over
    BUILD_BUDGET_S else None): what budget_failures words, and the CPU paragraph counts."""
    seconds = _seconds(record)
    total = sum(seconds.values())
    return ([(name, s) for name, s in seconds.items() if s > CHAPTER_BUDGET_S],
            total if total > BUILD_BUDGET_S else None)


def _over(seconds, budget):
    """`seconds` in whole seconds, or to a tenth where whole seconds would read as the budget itself."""
    return f"{seconds:.0f} s" if round(seconds) > budget else f"{seconds:.1f} s"


def budget_failures(record):
    """One plain sentence per chapter of `record` over CHAPTER_BUDGET_S, and one if its chapters
    together are over BUILD_BUDGET_S; [] when the record is within both. A malformed record (no
    "seconds" dict, a time that is not a positive number) is refused with a ValueError."""
    chapters, total = _overruns(record)
    failures = [f"{name} took {_over(s, CHAPTER_BUDGET_S)}, over the {CHAPTER_BUDGET_S} s budget of a chapter"
                for name, s in chapters]
    if total is not None:
        failures.append(f"the chapters took {_over(total, BUILD_BUDGET_S)} in all, "
                        f"over the {BUILD_BUDGET_S} s budget of the build")
    return failures


def _minutes(budget_s):
    return f"{budget_s / 60:g} minutes"


def _verdict(record):
    """The CPU record against the budgets, in words: "within the budgets of ..." or "over the budget ..."."""
    chapters, total = _overruns(record)
    build, chapter = f"{_minutes(BUILD_BUDGET_S)} for the build", f"{_minutes(CHAPTER_BUDGET_S)} a chapter"
    count = f"{len(chapters)} chapter{'s' if len(chapters) != 1 else ''}"
    if total is None and not chapters:
        return f"within the budgets of {build} and {chapter}"
    if total is None:
        return (f"within the budget of {build}, but {count} {'is' if len(chapters) == 1 else 'are'} "
                f"over the budget of {chapter}")
    if not chapters:
        return f"over the budget of {build}, though no chapter is over the budget of {chapter}"
    return f"over the budget of {build}, with {count} over the budget of {chapter}"


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
    # The budgets are set for the CPU record (2 CPUs, bundled data); a GPU column is not held to them.
    budgets = f", {_verdict(record)}" if column == "cpu" else ""
    return (f"The {name} column was measured on {record['date']} with TensorFlow {record['tensorflow']} on "
            f"{record['device']}: {total:.0f} s in all{budgets}. Data: {record['data']}.")


def _full_size(record):
    projection = record["projection"]
    return (f"Full MNIST (60,000 / 10,000 images, {record['full_epochs']} epochs per model), as the published "
            f"book builds it, is projected to take at most about {projection['build_s'] / 60:.0f} min on "
            f"{record['device']} (timed in CPU seconds, which a quiet machine's clock does not exceed): "
            f"{projection['full_training_s'] / 60:.0f} min of training, "
            f"{record['evaluation']['full']['scaled_s'] / 60:.0f} min of chapter 7's evaluation"
            f" and {projection['other_s'] / 60:.0f} min for everything else. Projected on {record['date']} by "
            f"`python benchmarks/full_size_rehearsal.py --record` from one epoch of each of the book's "
            f"{len(record['runs'])} distinct training runs and chapter 7's evaluation, timed at full size on "
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
