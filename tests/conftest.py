import json
import os
import pathlib
import shutil
import tempfile
import time

# Keep TensorFlow's C++ start-up chatter out of test logs; set before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from vae_helpers import config, data

EXECUTED = "VAE_TEST_EXECUTED_NOTEBOOKS"
"""Names the folder where this run keeps the chapters as nbval executed them, outputs included;
tests/test_browser.py's quick book build takes its outputs from there instead of executing the
chapters a second time (a chapter nbval did not pass is executed by the build as before)."""
BOOK, STUDENT = "tests/test_browser.py", "tests/test_student_edition.py"
EDITION = "tests/test_notebook_edition.py"
"""Reads the quick build too, so it runs in the book's unit of work, after the browser checks."""
_STAGES = {  # the stage each test file belongs to, for the timing summary
    BOOK: "quick book build (-W -n) + browser checks",
    EDITION: "notebook edition from the quick build",
    STUDENT: "student edition under nbval",
}


def pytest_configure(config):
    config.pluginmanager.register(_KeepExecutedNotebooks(), "vae-keep-executed-notebooks")
    config.pluginmanager.register(_Order(), "vae-test-order")
    if hasattr(config, "workerinput"):  # an xdist worker: the controller did the rest
        return
    config.pluginmanager.register(_StageClock(), "vae-stage-clock")
    if not os.environ.get(EXECUTED):  # set by hand, it keeps them after the run
        config._vae_executed = tempfile.mkdtemp(prefix="vae-executed-notebooks-")
        os.environ[EXECUTED] = config._vae_executed
    # Every run trains its models: no test, chapter or build fetches published ones (no network).
    os.environ.setdefault("VAE_FETCH_MODELS", "0")
    # One checkpoint folder for every execution of the chapters in this run (nbval, the quick book
    # build, the student edition), as the book build shares one between chapters: the first
    # execution of a chapter trains its quick-mode models (one epoch each) and the others load
    # them. A fresh folder per run, so every run trains once; an explicit $VAE_CHECKPOINT_DIR wins.
    # xdist's workers are started after this and inherit the variable.
    if not os.environ.get("VAE_CHECKPOINT_DIR"):
        config._vae_checkpoints = tempfile.mkdtemp(prefix="vae-quick-checkpoints-")
        os.environ["VAE_CHECKPOINT_DIR"] = config._vae_checkpoints


def pytest_unconfigure(config):
    for folder in (getattr(config, "_vae_checkpoints", None), getattr(config, "_vae_executed", None)):
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def _group(nodeid):
    """The unit of work an xdist worker takes whole: the chapters under nbval and the book build
    form one, so that one worker runs them in that order and the build reuses nbval's outputs;
    each chapter of the student edition is one, so that both workers share the last two minutes;
    every other test file is one (a notebook's cells share a kernel, a file's fixtures run once)."""
    path = nodeid.split("::")[0]
    if path in (BOOK, EDITION) or path.startswith("notebooks/"):
        return "book"
    return nodeid if path == STUDENT and "[" in nodeid else path


def _order(item):
    # The long unit first, then the unit tests, the student edition's chapters last: on two
    # workers the second runs the unit tests while the first runs nbval and builds the book, and
    # whichever is free takes the next student chapter, which by then finds the chapters' models
    # trained (a shared checkpoint folder). xdist queues the units in this order
    # (--no-loadscope-reorder in pyproject.toml).
    path = item.nodeid.split("::")[0]
    if _group(item.nodeid) == "book":
        return 0, 0 if path.startswith("notebooks/") else 1 if path == BOOK else 2
    if path == STUDENT:
        # Later chapters take longer: the longest first, so no worker ends alone on a long one.
        chapter = getattr(item, "callspec", None) and item.callspec.params.get("chapter", "")
        return 3, -int(chapter[:2]) if chapter else 0
    return 2, 0


class _Order:
    """Orders the tests (a plugin, not a conftest hook, so that it sees notebooks/ too)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items):
        items.sort(key=_order)  # stable: the order within each group is kept


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_xdist_make_scheduler(config, log):
    # xdist's own groups (--dist loadgroup) rename nodes, which pytest 9 no longer allows; a
    # scheduler of whole files with the "book" unit is xdist's documented way to the same end.
    from xdist.scheduler import LoadScopeScheduling

    class BookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _group(nodeid)

    return BookScheduling(config, log)


class _KeepExecutedNotebooks:
    """Keeps each chapter as nbval executed it, outputs and all, once every cell has passed."""

    def __init__(self):
        self.failed = set()

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.add(report.nodeid.split("::")[0])

    def pytest_runtest_teardown(self, item, nextitem):
        if not (hasattr(item, "test_outputs") and hasattr(item.parent, "nb")) or not os.environ.get(EXECUTED):
            return
        item.cell.outputs = item.test_outputs or []
        item.cell.execution_count = item.cell_num + 1
        path = pathlib.Path(str(item.parent.fspath))
        last = nextitem is None or nextitem.parent is not item.parent
        if last and item.nodeid.split("::")[0] not in self.failed:
            code = [cell for cell in item.parent.nb.cells if cell.cell_type == "code"]
            if all(cell.get("execution_count") for cell in code):
                (pathlib.Path(os.environ[EXECUTED]) / path.name).write_text(json.dumps(item.parent.nb))


class _StageClock:
    """Seconds each stage's tests took (setup, call and teardown, summed over xdist's workers),
    printed after the run. A plugin rather than conftest hooks, so that it also sees notebooks/."""

    def __init__(self):
        self.start, self.seconds = time.perf_counter(), {}

    @staticmethod
    def stage(nodeid):
        path = nodeid.split("::")[0]
        return f"nbval: {path}" if path.startswith("notebooks/") else _STAGES.get(path, "unit tests and source checks")

    def pytest_runtest_logreport(self, report):
        self.seconds[self.stage(report.nodeid)] = self.seconds.get(self.stage(report.nodeid), 0.0) + report.duration

    def pytest_terminal_summary(self, terminalreporter):
        if not self.seconds:
            return
        notebooks = {k: v for k, v in self.seconds.items() if k.startswith("nbval: ")}
        lines = [f"{v:7.1f} s  {k}" for k, v in self.seconds.items() if k not in notebooks]
        lines += [f"{v:7.1f} s  {k}" for k, v in sorted(notebooks.items())]
        if notebooks:
            lines.append(f"{sum(notebooks.values()):7.1f} s  nbval, all {len(notebooks)} chapters")
        lines.append(f"{sum(self.seconds.values()):7.1f} s  every test, summed over workers; "
                     f"{time.perf_counter() - self.start:.1f} s on the clock")
        terminalreporter.write_sep("=", "seconds per stage")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def bundled():
    return data.load_mnist("bundled")


@pytest.fixture
def small(bundled, tmp_path, monkeypatch):
    """64 training and 32 test digits with their labels, quick mode, checkpoints in tmp_path."""
    import dataclasses

    monkeypatch.setenv("VAE_QUICK", "1")
    monkeypatch.setenv("VAE_FETCH_MODELS", "0")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    return dataclasses.replace(bundled, train_images=bundled.train_images[:64], train_labels=bundled.train_labels[:64],
                               test_images=bundled.test_images[:32], test_labels=bundled.test_labels[:32])


@pytest.fixture(scope="session")
def trained_2d(bundled):
    """A 2-D model after 2 quick epochs (trained once per session, shared by the evaluation and
    amortisation tests): a posterior narrow enough that the bound's k matters."""
    from vae_helpers import models, training

    config.set_seeds(config.SEED)
    train = data.make_dataset(bundled.train_images[:1024], batch_size=32)
    test = data.make_dataset(bundled.test_images[:64], shuffle=False)
    return training.train(models.CVAE(2, seed=0), train, test, epochs=2, learning_rate=1e-3, verbose=0).model


@pytest.fixture(autouse=True)
def _seeded():
    config.set_seeds(config.SEED)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD_OUTPUT = ROOT / "_build" / "quick"
BUILT = "VAE_BUILT_BOOK"
"""Names the html/ folder of a book built already (say _build/html, after the full-mode build):
the browser checks and the notebook edition's tests then use it instead of building the quick book."""


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """The built book's html/ folder. Builds the book in quick mode, as CI publishes nothing from
    it, with -W -n (warnings and broken references are errors). Models come from the run's shared
    checkpoint folder, as in a real build where chapter 6 loads what chapter 5 trained. Its
    executed notebooks are in the sibling folder jupyter_execute/."""
    if os.environ.get(BUILT):
        return pathlib.Path(os.environ[BUILT]).resolve()
    import subprocess
    import sys

    checkpoints = os.environ.get("VAE_CHECKPOINT_DIR") or str(tmp_path_factory.mktemp("checkpoints"))
    env = dict(os.environ, VAE_QUICK="1", VAE_CHECKPOINT_DIR=checkpoints, TF_CPP_MIN_LOG_LEVEL="3")
    _cache_chapters_nbval_executed()
    jupyter_book = pathlib.Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        # --all: every page from this run's outputs, none left over from an earlier run's build.
        [str(jupyter_book), "build", str(ROOT), "--all", "-W", "-n", "--keep-going",
         "--path-output", str(BUILD_OUTPUT)],
        capture_output=True, text=True, env=env, timeout=3000,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return BUILD_OUTPUT / "_build" / "html"


def _cache_chapters_nbval_executed():
    """Puts the chapters nbval executed in this run (kept by _KeepExecutedNotebooks, outputs and
    all) into the build's execution cache, so the build renders those outputs instead of executing
    the chapters a second time. The build executes any chapter not there (nbval failed it, or it
    was not run) as before: its cache matches a notebook by its code, not by who executed it."""
    from jupyter_cache import get_cache

    folder = os.environ.get(EXECUTED)
    executed = sorted(pathlib.Path(folder).glob("*.ipynb")) if folder else []
    if not executed:
        return
    cache = get_cache(str(BUILD_OUTPUT / "_build" / ".jupyter_cache"))
    for path in executed:
        cache.cache_notebook_file(str(path), uri=str(ROOT / "notebooks" / path.name),
                                  check_validity=True, overwrite=True)
