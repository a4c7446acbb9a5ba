import imageio.v3 as iio
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from vae_helpers import latent, plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_tile_places_each_image_in_its_cell_with_dark_ink():
    images = np.zeros((5, 28, 28, 1), np.float32)
    images[3, 0, 0, 0] = 1.0  # row 1, column 0 in a 3-column tile
    picture = plots.tile(images, ncols=3)
    assert picture.shape == (56, 84) and picture.dtype == np.uint8
    assert picture[28, 0] == 0  # ink is black
    assert np.count_nonzero(picture != 255) == 1


def test_training_history_plots_both_sets_for_each_term():
    history = {name: list(np.arange(3.0) + offset) for offset, name in enumerate(
        ["elbo", "val_elbo", "reconstruction_loss", "val_reconstruction_loss", "kl_loss", "val_kl_loss"])}
    figure = plots.training_history(history, "title")
    axes = figure.axes
    assert len(axes) == 3
    for axis, name in zip(axes, ("elbo", "reconstruction_loss", "kl_loss")):
        train_line, test_line = axis.get_lines()
        np.testing.assert_array_equal(train_line.get_ydata(), history[name])
        np.testing.assert_array_equal(test_line.get_ydata(), history["val_" + name])
        np.testing.assert_array_equal(train_line.get_xdata(), [1, 2, 3])
        assert axis.get_xlabel() == "epoch" and axis.get_title()


class _FakeModel:
    def __init__(self):
        self.calls = 0

    def sample(self, eps):
        self.calls += 1

        class _Tensor:
            def __init__(self, value):
                self.value = value

            def numpy(self):
                return self.value

        return _Tensor(np.full((len(eps), 28, 28, 1), self.calls / 10, np.float32))


def test_prior_sample_frames_survive_a_restart_and_make_a_looping_gif(tmp_path):
    model = _FakeModel()
    frames = plots.PriorSampleFrames(np.zeros((6, 2)), tmp_path / "frames", ncols=3)
    for epoch in (1, 2, 3):
        frames(epoch, model)
    # A new object over the same directory (a resumed run) sees the saved frames.
    resumed = plots.PriorSampleFrames(np.zeros((6, 2)), tmp_path / "frames", ncols=3)
    resumed(4, model)
    saved = resumed.frames()
    assert len(saved) == 4 and saved[0].shape == (56, 84)
    assert [int(frame[0, 0]) for frame in saved] == [round(255 * (1 - k / 10)) for k in (1, 2, 3, 4)]
    html = resumed.gif_html(tmp_path / "movie.gif")
    assert html.startswith('<img src="data:image/gif;base64,')
    assert iio.imread(tmp_path / "movie.gif", index=None).shape[0] == 4
    # Epoch 1 means a fresh run: the old frames go.
    resumed(1, model)
    assert len(resumed.frames()) == 1


def test_gif_without_frames_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="on_epoch_end"):
        plots.PriorSampleFrames(np.zeros((4, 2)), tmp_path / "none").gif_html(tmp_path / "x.gif")


def test_manifold_labels_its_axes_with_the_grid_values():
    grid = latent.quantile_grid(5)
    figure = plots.manifold(np.zeros((25, 28, 28, 1)), grid, "manifold")
    axis = figure.axes[0]
    labels = [float(tick.get_text()) for tick in axis.get_xticklabels()]
    np.testing.assert_allclose(labels, np.round(grid[:5, 0], 2), atol=1e-6)
    assert axis.get_images()[0].get_array().shape == (140, 140)


def test_latent_scatter_colours_points_by_label():
    means = np.random.default_rng(0).normal(size=(50, 2))
    labels = np.arange(50) % 10
    figure = plots.latent_scatter(means, labels, "scatter")
    collection = figure.axes[0].collections[0]
    np.testing.assert_array_equal(collection.get_offsets(), means)
    np.testing.assert_array_equal(collection.get_array(), labels)
