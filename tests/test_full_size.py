"""Full size: $VAE_MNIST points every chapter at a local MNIST-format file, full vs subset epochs
follow the number of training images, and the rehearsal tool reads MNIST's idx format."""

import gzip
import json
import pathlib
import re
import struct
import sys
import types

import numpy as np
import pytest
import yaml

from vae_helpers import data, runs

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import full_size_rehearsal  # noqa: E402


def _write_npz(path, n_train, n_test, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, n_train), "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, n_test)}
    np.savez(path, **arrays)
    return arrays


def _sized(n_train, source):
    # A zero-copy stand-in with the shape of n_train images (60,000 real ones would take 188 MB).
    return types.SimpleNamespace(source=source, train_images=np.broadcast_to(np.float32(0), (n_train, 28, 28, 1)))


def test_vae_mnist_points_the_default_call_at_a_local_file(tmp_path, monkeypatch):
    arrays = _write_npz(tmp_path / "course_copy.npz", 120, 30)
    monkeypatch.setenv("VAE_MNIST", str(tmp_path / "course_copy.npz"))
    mnist = data.load_mnist()  # what every chapter calls
    assert mnist.source == str(tmp_path / "course_copy.npz")
    assert (len(mnist.train_images), len(mnist.test_images)) == (120, 30)
    np.testing.assert_array_equal(mnist.train_images[..., 0], arrays["x_train"] / np.float32(255))
    np.testing.assert_array_equal(mnist.test_labels, arrays["y_test"])
    assert "course_copy.npz (120 train / 30 test images)" in mnist.description
    assert runs.source_tag(mnist) == "npz-course_copy"
    # An explicit source still wins over the variable.
    assert data.load_mnist("bundled").source == "bundled"


def test_vae_mnist_naming_no_file_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_MNIST", str(tmp_path / "missing.npz"))
    with pytest.raises(FileNotFoundError, match=r"VAE_MNIST=.*missing\.npz' names no file: .*or unset VAE_MNIST"):
        data.load_mnist()


def test_an_empty_vae_mnist_is_unset(monkeypatch):
    # The offline fallback is the bundled subset; an empty variable must not be read as a path.
    def offline():
        raise data.DownloadError("no network")

    monkeypatch.setenv("VAE_MNIST", "")
    monkeypatch.setattr(data, "_from_keras", offline)
    assert data.load_mnist().source == "bundled"


@pytest.mark.parametrize(("n_train", "source", "expected"), [
    (60_000, "/data/full_copy.npz", "keras"),  # full MNIST passed by path: 10 epochs, not 40
    (60_000, "keras", "keras"),
    (4_000, "bundled", "bundled"),
    (4_000, "keras", "bundled"),  # a small download is a subset, whatever its source
    (5_000, "/data/my_digits.npz", "bundled"),
])
def test_full_or_subset_epochs_follow_the_number_of_training_images(monkeypatch, n_train, source, expected):
    monkeypatch.setenv("VAE_QUICK", "0")
    assert runs.epochs_for(_sized(n_train, source)) == runs.FULL_EPOCHS[expected]
    monkeypatch.setenv("VAE_QUICK", "1")
    assert runs.epochs_for(_sized(n_train, source)) == 1


def _idx(array):
    """MNIST's idx layout written by hand: two zero bytes, type 0x08 (unsigned byte), the number
    of dimensions, each dimension as a big-endian uint32, then the bytes."""
    return struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_the_rehearsal_converts_idx_files_to_the_keras_layout(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), "y_train": rng.integers(0, 10, 50).astype(np.uint8),
              "x_test": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), "y_test": rng.integers(0, 10, 20).astype(np.uint8)}
    for key, stem in full_size_rehearsal.IDX_FILES.items():
        # Debian ships them gzipped; plain files (as unpacked by hand) are read too.
        if key.startswith("x"):
            (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(_idx(arrays[key])))
        else:
            (tmp_path / stem).write_bytes(_idx(arrays[key]))
    npz = full_size_rehearsal.convert_idx(tmp_path, tmp_path / "out.npz")
    mnist = data.load_mnist(npz)
    np.testing.assert_array_equal(mnist.train_images[..., 0] * 255, arrays["x_train"])
    np.testing.assert_array_equal(mnist.test_labels, arrays["y_test"])
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(arrays["y_test"])[:-3])
    with pytest.raises(ValueError, match="truncated"):
        full_size_rehearsal.convert_idx(tmp_path, tmp_path / "out.npz")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="No t10k-labels-idx1-ubyte"):
        full_size_rehearsal.convert_idx(tmp_path, tmp_path / "out.npz")


def _call_arguments(source, name):
    """The argument text of every call `name(...)` in `source` (nested parentheses included)."""
    for match in re.finditer(re.escape(name) + r"\(", source):
        depth, i = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(source[i], 0)
            i += 1
        yield source[match.end() : i - 1]


def _book_model_calls():
    """{notebook: {(latent_dim, beta, binarization) of each book_model call in it}}."""
    calls = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        calls[path.name] = set()
        source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        constants = dict(re.findall(r"^(\w+) = (\d+)$", source, flags=re.M))
        for arguments in _call_arguments(source, "book_model"):
            parts = [part.strip() for part in re.split(r",\s*(?![^()]*\))", arguments)]
            keywords = dict(part.split("=", 1) for part in parts if re.match(r"^\w+=", part))
            latent = keywords.get("latent_dim", parts[1])
            latent = int(constants.get(latent, latent))
            binarization = keywords.get("binarization", '"dynamic"').strip("\"'")
            beta = keywords.get("beta", "1.0")
            if beta == "beta":  # chapter 8's sweep over its list of betas
                betas = [float(b) for b in re.search(r"betas = \[([^\]]+)\]", source)[1].split(",")]
            else:
                betas = [float(beta)]
            calls[path.name] |= {(latent, b, binarization) for b in betas}
    return calls


def test_the_rehearsal_times_every_training_run_the_chapters_make():
    # The projection replaces the training in the recorded chapter times: every run of a recorded
    # chapter must be timed (a chapter not yet recorded is in neither; once recorded, rehearse again).
    calls = _book_model_calls()
    recorded = json.loads((ROOT / "benchmarks" / "results" / "chapter_times_cpu.json").read_text())["seconds"]
    in_recorded = set().union(*(calls[name] for name in recorded if name in calls))
    assert len(in_recorded) >= 4, calls
    assert in_recorded <= set(full_size_rehearsal.RUNS), in_recorded - set(full_size_rehearsal.RUNS)
    assert set(full_size_rehearsal.RUNS) <= set().union(*calls.values())


def test_the_projection_replaces_the_subset_training_by_full_size():
    rows = [{"subset_first_epoch_s": 5.0, "subset_epoch_s": 1.0, "full_first_epoch_s": 19.0}]
    evaluation = {"subset": {"scaled_s": 10.0}, "full": {"scaled_s": 100.0}}
    projection = full_size_rehearsal.project(rows, evaluation, {"a.ipynb": 100.0, "b.ipynb": 54.0}, 10, 40)
    # Subset: 5 + 39 x 1 = 44 s of training. Full: the first epoch's 4 s of set-up once, 15 s an epoch.
    assert projection["subset_training_s"] == 44.0
    assert projection["full_training_s"] == 19.0 + 9 * 15.0
    assert projection["other_s"] == 154.0 - 44.0 - 10.0
    assert projection["build_s"] == 100.0 + 154.0 + 100.0
    # CPU seconds above a quiet clock's leave at least the chapters that train nothing.
    slow = [dict(rows[0], subset_epoch_s=5.0)]
    floor = full_size_rehearsal.project(slow, evaluation, {"a.ipynb": 100.0, "b.ipynb": 54.0}, 10, 40, ["b.ipynb"])
    assert floor["other_s"] == 54.0 and floor["build_s"] == 54.0 + floor["full_training_s"] + 100.0
    assert "01_marginal_likelihood.ipynb" in full_size_rehearsal.chapters_without_training()
    assert "05_training.ipynb" not in full_size_rehearsal.chapters_without_training()


def test_the_rehearsal_times_chapter_9s_variants_as_the_chapter_trains_them():
    from vae_helpers import likelihoods

    # The cures train in chapter 9, the likelihood variants in chapter 11.
    source = "".join((ROOT / "notebooks" / name).read_text()
                     for name in ("09_curing_collapse.ipynb", "11_grey_pixels.ipynb"))
    assert full_size_rehearsal.VARIANTS[3:6] == likelihoods.LIKELIHOODS
    # The cures' arms (baseline, warm-up, free bits: train_arm) and the likelihood loop.
    assert source.count("runs.train_model(") == 2
    for arm in ("models.AnalyticKLCVAE(", "models.WarmupCVAE(", "models.FreeBitsCVAE("):
        assert arm in source, arm
    for name in ("LATENT_DIM", "FREE_BITS"):
        assert f"{name} = {full_size_rehearsal.CHAPTER_9[name]:g}" in source, name
    assert f"SEEDS = {full_size_rehearsal.CHAPTER_9['SEEDS']}" in source
    assert "EPOCHS = runs.experiment_epochs(mnist)" in source and "epochs=EPOCHS" in source
    assert "models.LikelihoodCVAE(16, name" in source
    assert full_size_rehearsal.CHAPTER_9["likelihood latent_dim"] == 16
    # Every chapter that trains is then timed: book_model's runs, these and chapter 12's.
    assert [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if "runs.train_model(" in p.read_text()] == [
        "09_curing_collapse.ipynb", "11_grey_pixels.ipynb", "12_labels.ipynb"]


def test_the_rehearsal_times_chapter_12s_runs_as_the_chapter_trains_them():
    chapter = json.loads((ROOT / "notebooks" / "12_labels.ipynb").read_text())
    source = "\n".join("".join(cell["source"]) for cell in chapter["cells"] if cell["cell_type"] == "code")
    assert full_size_rehearsal.VARIANTS[6:] == ("conditional", "m2")
    assert source.count("runs.train_model(") == 2
    assert "models.ConditionalVAE(16, seed=config.SEED)" in source
    assert f"SEEDS = {full_size_rehearsal.CHAPTER_12['SEEDS']}" in source
    assert f"LABELLED = {full_size_rehearsal.CHAPTER_12['LABELLED']}" in source
    assert "M2_EPOCHS = max(1, runs.epochs_for(mnist) // 5)" in source and "epochs=M2_EPOCHS" in source
    assert "\nALPHA = 0.1 * num_train\n" in source
    # Kingma et al.'s weight on one seed: the rehearsal's one extra copy of the run.
    assert source.count("train_m2(") == 3 and "weak = train_m2(SEEDS[0], KINGMA_ALPHA)" in source


def _pages_timeout_minutes():
    build = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())["jobs"]["build"]
    return build["timeout-minutes"]


def test_the_pages_timeout_leaves_a_margin_over_the_recorded_projection():
    record = json.loads(full_size_rehearsal.RECORD.read_text())
    projected_minutes = record["projection"]["build_s"] / 60
    # Installing the environment takes minutes too; GitHub stops any job at 360. A timeout far
    # above the projection would let a hung build hold the runner for hours.
    assert 1.5 * projected_minutes + 10 <= _pages_timeout_minutes() <= min(360, 3 * projected_minutes + 30)
    timed = [r for r in record["runs"] if "variant" not in r]
    assert {tuple(r[k] for k in ("latent_dim", "beta", "binarization")) for r in timed} == set(full_size_rehearsal.RUNS)
    assert [r["variant"] for r in record["runs"] if "variant" in r] == list(full_size_rehearsal.VARIANTS)


def test_the_landing_page_states_the_recorded_projection():
    import chapter_map

    record = chapter_map.load_records()[chapter_map.FULL_SIZE]
    page = chapter_map.LANDING_PAGE.read_text()
    # (tests/test_chapter_map.py checks that the whole block is what the records make it.)
    assert f"is projected to take at most about {record['projection']['build_s'] / 60:.0f} min" in page
    assert chapter_map._full_size(record) in page
