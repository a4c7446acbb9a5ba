"""Published models: a missing checkpoint is fetched from the book's site, checked, and loaded
instead of trained; a wrong, foreign or unreachable one falls back to training, in bounded time.
Every site here is served on 127.0.0.1 by a server this file starts."""

import contextlib
import dataclasses
import functools
import hashlib
import http.server
import importlib.util
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile

import keras
import pytest
import yaml

import vae_helpers
from vae_helpers import checkpoints, config, models, published, runs, training

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load_tool():
    spec = importlib.util.spec_from_file_location("publish_models", ROOT / "tools" / "publish_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


publish_models = _load_tool()


@pytest.fixture(scope="module")
def small(bundled):
    """64 training and 32 test digits: a quick-mode run of two steps."""
    return dataclasses.replace(bundled, train_images=bundled.train_images[:64],
                               test_images=bundled.test_images[:32])


@pytest.fixture(scope="module")
def trained(small, tmp_path_factory):
    """The checkpoint a quick-mode book run on `small` writes: the model the site publishes."""
    folder = tmp_path_factory.mktemp("build")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAE_QUICK", "1")
        patch.setenv("VAE_FETCH_MODELS", "0")
        patch.setenv("VAE_CHECKPOINT_DIR", str(folder))
        config.set_seeds(config.SEED)
        runs.book_model(small, 2, verbose=0)
        return folder / runs.run_name(small, 2)


@pytest.fixture(autouse=True)
def _learner(monkeypatch, tmp_path):
    """A learner in quick mode with fetching on and an empty checkpoint folder."""
    monkeypatch.setenv("VAE_QUICK", "1")
    monkeypatch.setenv("VAE_FETCH_MODELS", "1")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "learner"))
    (tmp_path / "learner").mkdir()


class _Site(http.server.SimpleHTTPRequestHandler):
    """Serves a folder, keeping the path of every request in `server.requests`."""

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serve(handler, monkeypatch):
    """Runs `handler` on a free port of 127.0.0.1; VAE_MODELS_URL points at its /models/."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("VAE_MODELS_URL", f"http://127.0.0.1:{server.server_address[1]}/models")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    (folder / "models").mkdir(parents=True)
    with _serve(functools.partial(_Site, directory=str(folder)), monkeypatch) as server:
        server.folder = folder / "models"
        yield server


def _record(path):
    """A checkpoint's manifest record, read from its zip here (not by vae_helpers.published)."""
    with zipfile.ZipFile(path) as archive:
        state = json.loads(archive.read(training.STATE_ENTRY))
        saved = json.loads(archive.read("config.json"))
    settings = {k: v for k, v in saved["config"].items() if k not in ("name", "trainable", "dtype")}
    return {"model": saved["registered_name"], "settings": settings,
            **{k: state[k] for k in ("latent_dim", "beta", "data_fingerprint", "epochs_done")}}


def _publish(server, path, name, sha256=None, record=None):
    """Puts `path` on the site as `name`, listed in its manifest with `path`'s SHA-256 and record
    unless others are given."""
    content = pathlib.Path(path).read_bytes()
    shutil.copy(path, server.folder / name)
    entry = {"name": name, "sha256": sha256 or hashlib.sha256(content).hexdigest(),
             "size": len(content), "record": record or _record(path)}
    manifest = {"format": 1, "vae_helpers": vae_helpers.__version__, "models": [entry]}
    (server.folder / "manifest.json").write_text(json.dumps(manifest))


def _with_record(source, target, **changes):
    """Copies checkpoint `source` to `target` with its run record changed."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            content = old.read(info)
            if info.filename == training.STATE_ENTRY:
                content = json.dumps({**json.loads(content), **changes})
            new.writestr(info, content)
    return target


class _Spy:
    """Wraps published.fetch, training.train and training.fit: how long the fetch took, what the
    checkpoint folder held when train was called (the fetch is over by then), how often fit ran."""

    def __init__(self, monkeypatch, folder):
        self.folder, self.fits, self.listing, self.seconds = folder, 0, None, None
        real_fetch, real_train, real_fit = published.fetch, training.train, training.fit

        def fetch(*args, **kwargs):
            start = time.monotonic()
            try:
                return real_fetch(*args, **kwargs)
            finally:
                self.seconds = time.monotonic() - start

        def train(*args, **kwargs):
            self.listing = {p.name: p.read_bytes() for p in folder.iterdir()}
            return real_train(*args, **kwargs)

        def fit(*args, **kwargs):
            self.fits += 1
            return real_fit(*args, **kwargs)

        monkeypatch.setattr(published, "fetch", fetch)
        monkeypatch.setattr(training, "train", train)
        monkeypatch.setattr(training, "fit", fit)


def _only_line(capsys):
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_package_names_the_site_that_config_yml_publishes(monkeypatch):
    owner, name = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].removeprefix(
        "https://github.com/").strip("/").split("/")
    assert published.SITE_URL == f"https://{owner.lower()}.github.io/{name}/"
    monkeypatch.delenv("VAE_MODELS_URL", raising=False)
    assert published.models_url() == published.SITE_URL + "models/"
    monkeypatch.setenv("VAE_MODELS_URL", "http://127.0.0.1:9/mirror")
    assert published.models_url() == "http://127.0.0.1:9/mirror/"


def test_a_published_model_is_fetched_verified_and_loaded_without_a_step(small, trained, site, monkeypatch,
                                                                          tmp_path, capsys):
    name = runs.run_name(small, 2)
    _publish(site, trained, name)
    spy = _Spy(monkeypatch, tmp_path / "learner")
    run = runs.book_model(small, 2, verbose=0)
    assert _only_line(capsys) == (
        f"Loaded the published model {name} (SHA-256, data fingerprint and settings verified).")
    assert spy.fits == 0 and run.resumed_from == 1 and run.seconds == 0.0
    # The optimizer's step count is the published run's: two steps (64 images, batches of 32).
    assert int(run.model.optimizer.iterations) == int(keras.models.load_model(trained).optimizer.iterations) == 2
    assert (tmp_path / "learner" / name).read_bytes() == trained.read_bytes()
    assert sorted(os.listdir(tmp_path / "learner")) == [name]  # no temporary file left
    assert site.requests == ["/models/manifest.json", f"/models/{name}"]


def test_a_download_whose_sha256_is_wrong_is_refused_and_the_run_trains(small, trained, site, monkeypatch,
                                                                         tmp_path, capsys):
    name = runs.run_name(small, 2)
    _publish(site, trained, name, sha256=hashlib.sha256(b"another file").hexdigest())
    learner = tmp_path / "learner"
    (learner / "notes.txt").write_text("mine")
    other_run = learner / runs.run_name(small, 2, beta=2.0)
    shutil.copy(trained, other_run)  # someone's checkpoint of another run: must stay as it is
    kept = {p.name: p.read_bytes() for p in learner.iterdir()}
    spy = _Spy(monkeypatch, learner)
    run = runs.book_model(small, 2, verbose=0)
    line = _only_line(capsys)
    assert line.startswith(f"Refused the published model {name}: its SHA-256 or size is not the manifest's")
    assert "training it here" in line and "VAE_FETCH_MODELS=0" in line
    assert spy.listing == kept  # the fetch wrote and replaced nothing
    assert spy.fits == 1 and run.resumed_from == 0 and run.epochs == 1
    assert {p.name: p.read_bytes() for p in learner.iterdir() if p.name != name} == kept


@pytest.mark.parametrize("where", ["manifest", "file"])
def test_a_model_of_other_data_is_refused_and_the_run_trains(where, small, trained, site, monkeypatch,
                                                              tmp_path, capsys):
    name, other = runs.run_name(small, 2), "f" * 64
    if where == "manifest":  # the manifest says so: not even downloaded
        _publish(site, trained, name, record={**_record(trained), "data_fingerprint": other})
    else:  # the manifest claims this run's data; the file's own record says otherwise
        foreign = _with_record(trained, tmp_path / "foreign.keras", data_fingerprint=other)
        _publish(site, foreign, name, record=_record(trained))
    spy = _Spy(monkeypatch, tmp_path / "learner")
    run = runs.book_model(small, 2, verbose=0)
    line = _only_line(capsys)
    said = "the manifest's record says" if where == "manifest" else "its own run record says"
    assert line.startswith(f"Refused the published model {name}: {said} it was trained on data with "
                           f"fingerprint {other[:12]}")
    assert "training it here" in line
    assert spy.listing == {} and spy.fits == 1 and run.resumed_from == 0
    assert site.requests == ["/models/manifest.json"] + ([] if where == "manifest" else [f"/models/{name}"])


def test_a_published_variant_of_chapter_9_is_fetched_and_one_of_other_settings_refused(small, site, monkeypatch,
                                                                                       tmp_path, capsys):
    def warmup(steps):
        return models.WarmupCVAE(2, warmup_steps=steps, seed=config.SEED)

    monkeypatch.setenv("VAE_FETCH_MODELS", "0")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "build"))
    runs.train_model(small, warmup(10), verbose=0)
    name = runs.checkpoint_name(small, warmup(10))
    _publish(site, tmp_path / "build" / name, name)
    monkeypatch.setenv("VAE_FETCH_MODELS", "1")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "learner"))
    spy = _Spy(monkeypatch, tmp_path / "learner")
    run = runs.train_model(small, warmup(10), verbose=0)
    assert _only_line(capsys).startswith(f"Loaded the published model {name} (")
    assert spy.fits == 0 and run.resumed_from == 1 and run.model.warmup_steps == 10
    # A file of other settings under this run's name (renamed by hand): the model is not theirs.
    other = runs.checkpoint_name(small, warmup(20))
    _publish(site, tmp_path / "build" / name, other)
    run = runs.train_model(small, warmup(20), verbose=0)
    assert _only_line(capsys).startswith(f"Refused the published model {other}: the manifest's record has "
                                         "warmup_steps=10 and this run has warmup_steps=20.")
    assert spy.fits == 1 and run.resumed_from == 0


@contextlib.contextmanager
def _silent_server():
    """A port that accepts connections (the kernel's backlog) and never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once it is closed


@pytest.mark.parametrize("server", ["closed port", "never answers"])
def test_an_unreachable_site_falls_back_to_training_in_bounded_time(server, small, monkeypatch, tmp_path,
                                                                      capsys):
    with contextlib.ExitStack() as stack:
        port = _closed_port() if server == "closed port" else stack.enter_context(_silent_server())
        monkeypatch.setenv("VAE_MODELS_URL", f"http://127.0.0.1:{port}/models/")
        spy = _Spy(monkeypatch, tmp_path / "learner")
        run = runs.book_model(small, 2, verbose=0)
    line = _only_line(capsys)
    assert re.fullmatch(rf"No published model {re.escape(runs.run_name(small, 2))} \(.+\); training it here\.",
                        line)
    limit = 2.0 if server == "closed port" else published.TIMEOUT_SECONDS + 2.0
    assert spy.seconds < limit, f"the fetch took {spy.seconds:.1f} s"
    assert "refused" in line.lower() if server == "closed port" else "timed out" in line
    assert spy.fits == 1 and run.resumed_from == 0 and spy.listing == {}


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Answers at once, then sends its body a byte every 0.2 s: no read waits long enough to time out."""

    def do_GET(self):
        self.server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(40):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("server", ["trickles", "never answers"])
def test_the_overall_cap_holds_however_the_server_stalls(server, small, monkeypatch, tmp_path, capsys):
    # A cap below the socket timeout: only the overall deadline can end these fetches in time.
    monkeypatch.setattr(published, "TOTAL_SECONDS", 1.5)
    assert published.TIMEOUT_SECONDS > 3
    checkpoint = tmp_path / "learner" / runs.run_name(small, 2)
    with contextlib.ExitStack() as stack:
        if server == "trickles":
            stack.enter_context(_serve(_Trickle, monkeypatch))
        else:
            port = stack.enter_context(_silent_server())
            monkeypatch.setenv("VAE_MODELS_URL", f"http://127.0.0.1:{port}/models/")
        start = time.monotonic()
        placed = published.fetch(checkpoint, models.CVAE(2, seed=config.SEED), 1, runs.data_fingerprint(small))
        seconds = time.monotonic() - start
    assert not placed and seconds < 2.5, f"{seconds:.1f} s"
    assert "within 1.5 s" in _only_line(capsys)
    assert os.listdir(tmp_path / "learner") == []


def test_fetching_switched_off_never_contacts_the_server(small, trained, site, monkeypatch, capsys):
    _publish(site, trained, runs.run_name(small, 2))
    monkeypatch.setenv("VAE_FETCH_MODELS", "0")
    run = runs.book_model(small, 2, verbose=0)
    assert run.resumed_from == 0 and run.epochs == 1
    assert site.requests == [] and capsys.readouterr().out == ""
    monkeypatch.setenv("VAE_FETCH_MODELS", "sometimes")
    with pytest.raises(ValueError, match="set VAE_FETCH_MODELS=0 to train"):
        runs.book_model(small, 2, verbose=0)


def test_a_file_that_appears_during_the_download_is_never_replaced(small, trained, tmp_path, monkeypatch,
                                                                     capsys):
    name = runs.run_name(small, 2)
    checkpoint = tmp_path / "learner" / name
    folder = tmp_path / "site"
    (folder / "models").mkdir(parents=True)

    class Racing(_Site):
        def do_GET(self):
            if self.path.endswith(name):  # another process writes the checkpoint meanwhile
                checkpoint.write_bytes(b"someone else's checkpoint")
            super().do_GET()

    with _serve(functools.partial(Racing, directory=str(folder)), monkeypatch) as server:
        server.folder = folder / "models"
        _publish(server, trained, name)
        placed = published.fetch(checkpoint, models.CVAE(2, seed=config.SEED), 1, runs.data_fingerprint(small))
    assert not placed and checkpoint.read_bytes() == b"someone else's checkpoint"
    assert "appeared" in _only_line(capsys)
    assert os.listdir(tmp_path / "learner") == [name]


def _build_folder(trained, folder):
    """What a full-mode build may leave: finished runs of the book and of a variant, an unfinished
    run, a quick-mode run and a temporary file."""
    folder.mkdir()
    epochs = runs.FULL_EPOCHS["bundled"]
    finished = [f"cvae-latent_dim2-seed42-beta1-dynamic-{epochs}ep-bundled-0123abcd-full.keras",
                f"warmupcvae-latent_dim2-seed42-beta1-warmup_steps1250-dynamic-{epochs}ep-bundled-89abcdef-full.keras"]
    for name in finished:
        _with_record(trained, folder / name, epochs_done=epochs)
    # 1 epoch of 10:
    shutil.copy(trained, folder / "cvae-latent_dim16-seed42-beta1-dynamic-10ep-mnist-4567cdef-full.keras")
    shutil.copy(trained, folder / trained.name)
    shutil.copy(trained, folder / f".{finished[0]}.host.12.abc.partial.keras")
    return finished


def test_publish_models_lists_each_finished_full_mode_checkpoint_with_its_sha256(small, trained, tmp_path,
                                                                                    monkeypatch, capsys):
    finished = _build_folder(trained, tmp_path / "checkpoints")
    (tmp_path / "html").mkdir()
    assert publish_models.main([str(tmp_path / "checkpoints"), str(tmp_path / "html")]) == 0
    models_dir = tmp_path / "html" / "models"
    manifest = json.loads((models_dir / "manifest.json").read_text())
    assert manifest["vae_helpers"] == vae_helpers.__version__
    assert [entry["name"] for entry in manifest["models"]] == finished
    assert sorted(os.listdir(models_dir)) == sorted([*finished, "manifest.json"])
    for entry in manifest["models"]:
        content = (tmp_path / "checkpoints" / entry["name"]).read_bytes()
        assert (models_dir / entry["name"]).read_bytes() == content
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["size"] == len(content)
        assert entry["record"] == _record(tmp_path / "checkpoints" / entry["name"])
        assert entry["record"]["epochs_done"] == runs.FULL_EPOCHS["bundled"]
        assert entry["record"]["data_fingerprint"] == runs.data_fingerprint(small)
    assert capsys.readouterr().out.count("skipped") == 2  # the unfinished and the quick-mode runs
    # The manifest is what the package reads: served, it gives the learner the finished run.
    checkpoint = tmp_path / "learner" / finished[0]
    with _serve(functools.partial(_Site, directory=str(tmp_path / "html")), monkeypatch):
        assert published.fetch(checkpoint, models.CVAE(2, seed=config.SEED), runs.FULL_EPOCHS["bundled"],
                                 runs.data_fingerprint(small))
    assert checkpoint.read_bytes() == (models_dir / finished[0]).read_bytes()


def test_publish_models_refuses_to_overwrite_a_different_file(trained, tmp_path, capsys):
    finished = _build_folder(trained, tmp_path / "checkpoints")
    models_dir = tmp_path / "html" / "models"
    models_dir.mkdir(parents=True)
    (models_dir / finished[1]).write_bytes(b"last release's model")
    assert publish_models.main([str(tmp_path / "checkpoints"), str(tmp_path / "html")]) == 1
    assert "nothing was written" in capsys.readouterr().err
    assert os.listdir(models_dir) == [finished[1]]
    assert (models_dir / finished[1]).read_bytes() == b"last release's model"
    # Publishing twice into one site: the same files are left as they are; another manifest is refused.
    (models_dir / finished[1]).unlink()
    assert publish_models.main([str(tmp_path / "checkpoints"), str(tmp_path / "html")]) == 0
    assert publish_models.main([str(tmp_path / "checkpoints"), str(tmp_path / "html")]) == 0
    (tmp_path / "checkpoints" / finished[1]).unlink()
    before = (models_dir / "manifest.json").read_bytes()
    assert publish_models.main([str(tmp_path / "checkpoints"), str(tmp_path / "html")]) == 1
    assert (models_dir / "manifest.json").read_bytes() == before


_KILLED_IN_FETCH = """
import hashlib, json, os, signal, sys
import vae_helpers
from vae_helpers import models, published

checkpoint = sys.argv[1]
body = b"PK\\x03\\x04 the first bytes of a model"
entry = {"name": os.path.basename(checkpoint), "sha256": hashlib.sha256(body).hexdigest(),
         "size": len(body), "record": {}}
manifest = {"format": 1, "vae_helpers": vae_helpers.__version__, "models": [entry]}

def get(url, limit, deadline):
    return json.dumps(manifest).encode() if url.endswith("manifest.json") else body

def dies(path):  # the download is on disk; killed as a recycled runtime is: no cleanup runs
    os.kill(os.getpid(), signal.SIGKILL)

published._get, published._compare, published.record_of = get, lambda *args: None, dies
published.fetch(checkpoint, models.CVAE(2, seed=0), 1, "a" * 64)
"""


def test_the_next_fetch_removes_what_a_killed_fetch_left_and_nothing_else(small, tmp_path, monkeypatch,
                                                                            capsys):
    learner = tmp_path / "learner"
    checkpoint = learner / runs.run_name(small, 2)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", VAE_FETCH_MODELS="1")
    killed = subprocess.run([sys.executable, "-c", _KILLED_IN_FETCH, str(checkpoint)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (stale,) = [p.name for p in learner.iterdir()]  # v0.1: .NAME.RANDOM.download, kept for ever
    assert stale.startswith(f".{checkpoint.name}.")
    parts = stale[len(checkpoint.name) + 2:].split(".")  # host, pid, random, "download"
    assert len(parts) == 4 and parts[0] == checkpoints.host() and parts[3] == "download"

    def renamed(**changes):
        fields = dict(zip(("host", "pid", "random"), parts[:3]), **changes)
        return f".{checkpoint.name}.{fields['host']}.{fields['pid']}.{fields['random']}.download"

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        victim = tmp_path / "notes.txt"
        victim.write_text("my notes")
        kept = {
            renamed(pid=str(alive.pid)): b"a live fetch's download",
            renamed(host="another-host"): b"a fetch on another machine",
            stale.replace(checkpoint.name, "cvae-other.keras"): b"another checkpoint's",
            stale + ".bak": b"not our name",
            f".{checkpoint.name}.abc123xy.download": b"of v0.1: no process id to check",
        }
        for name, content in kept.items():
            (learner / name).write_bytes(content)
        link = learner / renamed(random="linkxxxx")
        link.symlink_to(victim)
        folder = learner / renamed(random="folderxx")
        folder.mkdir()
        # The site cannot be reached: the cleanup does not wait for a download.
        monkeypatch.setenv("VAE_MODELS_URL", f"http://127.0.0.1:{_closed_port()}/models/")
        assert not published.fetch(checkpoint, models.CVAE(2, seed=config.SEED), 1,
                                   runs.data_fingerprint(small))
    finally:
        alive.kill()
        alive.wait()
    assert "training it here" in _only_line(capsys)
    assert not (learner / stale).exists()
    for name, content in kept.items():
        assert (learner / name).read_bytes() == content, name
    assert link.is_symlink() and victim.read_text() == "my notes" and folder.is_dir()
    assert sorted(p.name for p in learner.iterdir()) == sorted([*kept, link.name, folder.name])
