"""Builds the student pages: the book's HTML with no solutions, from a finished build's cache.

    python tools/student_book.py BUILD_DIR OUTPUT_DIR [--overwrite]

BUILD_DIR is the _build folder of a finished `jupyter-book build .`, as for
tools/assignments.py and tools/notebook_edition.py (its .jupyter_cache holds every chapter's
executed outputs); the chapters are not run again, so the student pages show
the same numbers as the book's. OUTPUT_DIR must be new or empty unless --overwrite is given; the
pages are written to OUTPUT_DIR/_build/html.

The build is the book's own (_config.yml, _toc.yml, the chapters) with three changes: the
solutions are dropped (sphinx-exercise's `hide_solutions`, and _ext/student_pages.py for the
hidden code cells that solve coding exercises), each chapter's Colab badge opens the student
notebook (tools/student_edition.py), and the header's launch button, which would open the
chapter with its solutions, is left out. The configuration it builds with is written to
OUTPUT_DIR/_config_student.yml.
"""

import pathlib
import subprocess
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import notebook_edition  # noqa: E402  (tools/ is not a package)

ROOT = pathlib.Path(__file__).resolve().parents[1]
CACHE = ".jupyter_cache"


def student_config(cache):
    """The book's _config.yml as a dict, changed to build the student pages from `cache`."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["title"] = f"{config['title']} (student edition)"
    config["execute"] = {**config["execute"], "execute_notebooks": "cache", "cache": str(cache)}
    sphinx = config["sphinx"]
    # Absolute, since the configuration is read from OUTPUT_DIR.
    extensions = {**sphinx["local_extensions"], "student_pages": "_ext"}
    sphinx["local_extensions"] = {name: str(ROOT / path) for name, path in extensions.items()}
    sphinx["config"] = {**sphinx["config"], "hide_solutions": True}
    config.pop("launch_buttons", None)
    return config


def main(argv):
    args = notebook_edition.build_and_output_args(argv, __doc__, "the pages")
    build, output = pathlib.Path(args.build).resolve(), pathlib.Path(args.output).resolve()
    cache = build / CACHE
    if not cache.is_dir():
        raise SystemExit(f"{build} is not a finished build's _build folder ({CACHE} not found): "
                         "run `jupyter-book build .` first, and pass its _build folder.")
    if output in (build, build.parent, ROOT):
        raise SystemExit(f"refusing to build into {output}: it holds the book's own build. "
                         "Choose another OUTPUT_DIR.")
    try:
        notebook_edition.check_output(output, args.overwrite)
    except notebook_edition.EditionError as error:
        raise SystemExit(str(error)) from None
    output.mkdir(parents=True, exist_ok=True)
    config = output / "_config_student.yml"
    config.write_text(yaml.safe_dump(student_config(cache), sort_keys=False, allow_unicode=True))
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(ROOT), "--config", str(config),
               "--path-output", str(output), "-n", "--keep-going", "-q"]
    status = subprocess.run(command, cwd=ROOT).returncode
    if status:
        raise SystemExit(f"the student build failed (exit {status}); its log is above.")
    print(f"student pages: {output / '_build' / 'html' / 'index.html'}")


if __name__ == "__main__":
    main(sys.argv[1:])
