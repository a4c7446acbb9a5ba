"""Writes the instructor page's two generated tables from the chapters and the recorded times.

    python tools/course_map.py          # rewrite the tables in book/instructors.md
    python tools/course_map.py --check  # exit 1, naming what differs, if the page is out of date

- The syllabus: seven weeks, the chapters of each (`WEEKS`), the exercises to set, and the chapters'
  measured notebook time from benchmarks/results/chapter_times_<cpu|gpu>.json (written by
  `benchmarks/notebook_times.py --full --record`); a device never measured says so.
- The exercise map: every exercise with its difficulty, the learning objectives it practises
  (the chapter's "## Learning objectives" bullets it names by index) and its points.

An exercise's difficulty and objectives are metadata of its statement cell,
`"exercise": {"difficulty": "warm-up" | "core" | "stretch", "objectives": [0, 2]}`; its points are
the sum of its grading cells' `points:` (coding) or its solution cell's `"grading": {"points"}`
(written). A missing or malformed entry is an error naming the cell. tests/test_course_map.py runs
the check.
"""

import argparse
import json
import pathlib
import re
import sys

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import assignments  # noqa: E402  (tools/ is not a package)
import student_edition  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "instructors.md"
RESULTS = ROOT / "benchmarks" / "results"
DIFFICULTIES = ("warm-up", "core", "stretch")
WEEKS = (
    ("1", "What a VAE bounds: log p(x) exactly, then the ELBO", ("01", "02")),
    ("2", "The model and its loss, written and checked", ("03", "04")),
    ("3", "Training, resuming, and reading the latent space", ("05", "06")),
    ("4", "Measuring log p(x): IWAE and the two inference gaps", ("07",)),
    ("5", "β, rate and distortion, posterior collapse and two cures", ("08", "09")),
    ("6", "The aggregate posterior, and which likelihood for grey pixels", ("10", "11")),
    ("7", "When labels exist: conditional and semi-supervised VAEs (chapter 13 and its exercises "
          "optional)", ("12", "13")),
)
BEGIN = "<!-- {name}: written by tools/course_map.py -->"
END = "<!-- /{name} -->"
NOT_MEASURED = "not measured"


class CourseMapError(ValueError):
    """An exercise's metadata is missing or malformed; the message names the chapter and cell."""


def chapters():
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def objectives(notebook):
    """The bullets of a chapter's "## Learning objectives" section, as one line each."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and "## Learning objectives" in cell.source:
            section = cell.source.split("## Learning objectives", 1)[1].split("\n## ", 1)[0]
            bullets = re.split(r"\n\* ", "\n" + section.split("\n* ", 1)[-1])
            return [" ".join(b.split()) for b in bullets if b.strip()]
    return []


def _title(source):
    first = source.split("```{exercise}", 1)[1].split("\n", 1)[0]
    return first.strip()


def exercises(path):
    """[{label, title, difficulty, objectives (texts), points}] of one chapter, in order."""
    notebook = nbformat.read(path, as_version=4)
    goals = objectives(notebook)
    found = []
    for label, indices in assignments.exercises(notebook):
        cells = [notebook.cells[i] for i in indices]
        statement = next(c for c in cells if "```{exercise}" in c.source)
        where = f"{path.name}, exercise {label}"
        meta = statement.metadata.get("exercise")
        if not isinstance(meta, dict) or meta.get("difficulty") not in DIFFICULTIES:
            raise CourseMapError(f"{where}: its statement cell needs metadata \"exercise\": "
                                 f"{{\"difficulty\": one of {DIFFICULTIES}, \"objectives\": [...]}}")
        chosen = meta.get("objectives")
        if (not isinstance(chosen, list) or not chosen
                or not all(isinstance(i, int) and 0 <= i < len(goals) for i in chosen)):
            raise CourseMapError(f"{where}: \"objectives\" must list indices of the chapter's "
                                 f"{len(goals)} learning objectives (0 to {len(goals) - 1}); "
                                 f"got {chosen!r}")
        title = _title(statement.source)
        if not title.endswith(f"({meta['difficulty']})"):
            raise CourseMapError(f"{where}: its title {title!r} must end with "
                                 f"\"({meta['difficulty']})\", its difficulty")
        points = sum(int(m) for c in cells if student_edition.is_grading(c)
                     for m in re.findall(r"^points:\s*(\d+)", c.source, flags=re.M))
        points += sum(int(c.metadata.get("grading", {}).get("points", 0)) for c in cells)
        found.append({"label": label, "title": title, "difficulty": meta["difficulty"],
                      "objectives": [goals[i] for i in chosen], "points": points})
    return found


def _time(record, names):
    if record is None:
        return NOT_MEASURED
    seconds = [record["seconds"].get(f"{n}.ipynb") for n in names]
    if any(s is None for s in seconds):
        return NOT_MEASURED
    return f"{sum(seconds) / 60:.0f} min"


def _records():
    return {column: (json.loads(p.read_text()) if p.exists() else None)
            for column in ("cpu", "gpu") for p in [RESULTS / f"chapter_times_{column}.json"]}


def syllabus_table():
    by_prefix = {p.name[:2]: p for p in chapters()}
    records = _records()
    rows = ["| Week | Topic | Chapters | Exercises to set | Notebook time, CPU | Notebook time, GPU |",
            "|---|---|---|---|---|---|"]
    for week, topic, prefixes in WEEKS:
        paths = [by_prefix[p] for p in prefixes]
        links = ", ".join(f"[{int(p.name[:2])}](../notebooks/{p.stem}.ipynb)" for p in paths)
        labels = ", ".join(f"{{ref}}`{e['label']}`" for p in paths for e in exercises(p))
        names = [p.stem for p in paths]
        rows.append(f"| {week} | {topic} | {links} | {labels} | {_time(records['cpu'], names)} "
                    f"| {_time(records['gpu'], names)} |")
    cpu = records["cpu"]
    measured = (f"CPU times: one full-mode build on {cpu['device']}, {cpu['data']}, "
                f"TensorFlow {cpu['tensorflow']}, {cpu['date']}." if cpu else "CPU: not measured.")
    return "\n".join(rows) + "\n\n" + measured + " GPU: " + (
        "as recorded." if records["gpu"] else "not measured.")


def exercise_table():
    rows = ["| Chapter | Exercise | Difficulty | Practises | Points |", "|---|---|---|---|---|"]
    for path in chapters():
        for e in exercises(path):
            goals = "; ".join(g.rstrip(";.") for g in e["objectives"]).replace("|", "\\|")
            rows.append(f"| {int(path.name[:2])} | {{ref}}`{e['label']}` | {e['difficulty']} "
                        f"| {goals} | {e['points']} |")
    return "\n".join(rows)


def rendered(page_text):
    """`page_text` with both generated blocks rewritten."""
    for name, table in (("syllabus", syllabus_table()), ("exercise-map", exercise_table())):
        begin, end = BEGIN.format(name=name), END.format(name=name)
        if begin not in page_text or end not in page_text:
            raise CourseMapError(f"{PAGE.name} has no block {begin} ... {end}")
        head, rest = page_text.split(begin, 1)
        page_text = head + begin + "\n" + table + "\n" + end + rest.split(end, 1)[1]
    return page_text


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    try:
        text = PAGE.read_text()
        new = rendered(text)
    except CourseMapError as error:
        raise SystemExit(f"course map: {error}") from None
    if args.check:
        if new != text:
            raise SystemExit(f"{PAGE.relative_to(ROOT)} is out of date: run python tools/course_map.py")
        return
    PAGE.write_text(new)
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
