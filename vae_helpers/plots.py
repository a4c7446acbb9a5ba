"""Figures the chapters share. Every function returns the matplotlib Figure it drew."""

import base64
import glob
import os

import imageio.v3 as iio
import matplotlib.pyplot as plt
import numpy as np


def image_grid(images, title, ncols=10, labels=None, size=1.0):
    """Draws images in a grid.

    Args:
      images: array of shape (N, 28, 28, 1) or (N, 28, 28), values in [0, 1] (darker is higher).
      title: the figure's title: say what the images are (data, reconstructions, prior samples).
      ncols: images per row.
      labels: optional N short strings written above the images.
      size: inches per image.
    """
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    count = len(images)
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.5), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index], cmap="gray_r", vmin=0.0, vmax=1.0)
            if labels is not None:
                axis.set_title(str(labels[index]), fontsize=9)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def convergence(num_samples, errors, title, ylabel):
    """Log-log plot of an estimator's error against its sample count, beside a 1/sqrt(n) line.

    Args:
      num_samples: increasing sample counts, shape (K,).
      errors: the absolute error at each count, shape (K,).
    """
    num_samples, errors = np.asarray(num_samples, float), np.asarray(errors, float)
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.loglog(num_samples, errors, "o-", label="measured error")
    reference = errors[0] * np.sqrt(num_samples[0] / num_samples)
    axis.loglog(num_samples, reference, "--", color="gray", label=r"$\propto 1/\sqrt{n}$")
    axis.set_xlabel("number of samples $n$")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return figure


def training_history(history, title):
    """The ELBO and its two terms per epoch, on the training and the test set.

    Args:
      history: a `TrainingRun.history`: lists "elbo", "reconstruction_loss", "kl_loss" and their
        "val_" twins, one float per epoch, nats per image.
    """
    epochs = np.arange(1, len(history["elbo"]) + 1)
    panels = [
        ("elbo", "ELBO (higher is better)"),
        ("reconstruction_loss", "reconstruction: $-\\mathbb{E}_q \\log p(x|z)$"),
        ("kl_loss", "KL$(q(z|x) \\,\\|\\, p(z))$"),
    ]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for axis, (name, label) in zip(axes, panels):
        axis.plot(epochs, history[name], "o-", markersize=3, label="training set")
        axis.plot(epochs, history["val_" + name], "s-", markersize=3, label="test set")
        axis.set_xlabel("epoch")
        axis.set_ylabel("nats per image")
        axis.set_title(label)
        axis.grid(alpha=0.3)
    axes[0].legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def tile(images, ncols):
    """Images (N, 28, 28, 1) in [0, 1] -> one uint8 picture (rows * 28, ncols * 28), ink dark on white."""
    images = np.asarray(images)[..., 0]
    count = len(images)
    nrows = -(-count // ncols)
    canvas = np.zeros((nrows * 28, ncols * 28), np.float32)
    for index, image in enumerate(images):
        row, col = divmod(index, ncols)
        canvas[row * 28 : (row + 1) * 28, col * 28 : (col + 1) * 28] = image
    return np.round(255 * (1.0 - np.clip(canvas, 0.0, 1.0))).astype(np.uint8)


class PriorSampleFrames:
    """Decodes the same prior draws after every epoch and keeps each picture as a PNG file.

    Files outlive the process, so a run resumed from a checkpoint still ends with one frame per
    epoch. Use an instance as `on_epoch_end` of `vae_helpers.training.train`.

    Args:
      z: (num_samples, latent_dim) fixed codes drawn once from the prior.
      directory: where frames go, one "epoch_NNN.png" per epoch.
      ncols: images per row of a frame.
    """

    def __init__(self, z, directory, ncols=8):
        self.z = np.asarray(z, np.float32)
        self.directory = directory
        self.ncols = ncols

    def __call__(self, epoch, model, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        if epoch == 1:  # a fresh run: frames of an earlier run under this name are stale
            for stale in glob.glob(os.path.join(self.directory, "epoch_*.png")):
                os.remove(stale)
        picture = tile(model.sample(self.z).numpy(), self.ncols)
        iio.imwrite(os.path.join(self.directory, f"epoch_{epoch:03d}.png"), picture)

    def frames(self):
        """The saved frames in epoch order, a list of uint8 arrays."""
        return [iio.imread(path) for path in sorted(glob.glob(os.path.join(self.directory, "epoch_*.png")))]

    def gif_html(self, path, seconds_per_frame=0.25):
        """Writes the frames as a looping GIF to `path` and returns an <img> tag that embeds it
        (an HTML output, so Jupyter, Colab and the rendered book all show it)."""
        frames = self.frames()
        if not frames:
            raise ValueError(f"no frames in {self.directory}: train with this object as on_epoch_end first.")
        # Hold the last frame longer, so the loop shows where training ended.
        durations = [int(1000 * seconds_per_frame)] * (len(frames) - 1) + [1500]
        if len(frames) == 1:
            durations = durations[0]  # Pillow takes a list only for several frames
        iio.imwrite(path, np.stack(frames), extension=".gif", duration=durations, loop=0)
        with open(path, "rb") as file:
            encoded = base64.b64encode(file.read()).decode("ascii")
        return (
            f'<img src="data:image/gif;base64,{encoded}" alt="Decoded prior samples after each epoch" '
            f'style="image-rendering: pixelated; width: {2 * frames[0].shape[1]}px">'
        )


def latent_scatter(means, labels, title):
    """Encoder means of a test set, coloured by digit.

    Args:
      means: (N, 2) means of q(z|x).
      labels: (N,) digits 0-9.
    """
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    points = axis.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=6, alpha=0.8)
    colorbar = figure.colorbar(points, ax=axis, ticks=range(10))
    colorbar.set_label("digit")
    axis.set_xlabel("$z_1$ (mean of $q(z|x)$)")
    axis.set_ylabel("$z_2$ (mean of $q(z|x)$)")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def manifold(images, z_grid, title):
    """Decoded images laid out at their z on a square grid (see `latent.quantile_grid`).

    Args:
      images: (n * n, 28, 28, 1) decoded pixel probabilities, in the grid's row-major order.
      z_grid: (n * n, 2) the z each image was decoded from; its values label the axes.
    """
    count = int(round(np.sqrt(len(images))))
    picture = tile(images, count)
    z1 = z_grid[:count, 0]
    z2 = z_grid[::count, 1]
    figure, axis = plt.subplots(figsize=(8, 8))
    axis.imshow(picture, cmap="gray", vmin=0, vmax=255)
    ticks = np.arange(count) * 28 + 14
    shown = slice(None, None, max(1, count // 5))
    axis.set_xticks(ticks[shown], [f"{v:.2f}" for v in z1[shown]])
    axis.set_yticks(ticks[shown], [f"{v:.2f}" for v in z2[shown]])
    axis.set_xlabel("$z_1$")
    axis.set_ylabel("$z_2$")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def image_rows(rows, row_labels, title, size=0.9):
    """Several rows of images, each labelled on the left (interpolations, before/after pairs).

    Args:
      rows: list of arrays, each (num_images, 28, 28, 1) in [0, 1], all the same length.
      row_labels: one label per row.
    """
    ncols = len(rows[0])
    figure, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols + 1.5, size * len(rows) + 0.6), squeeze=False)
    for axes_row, images, label in zip(axes, rows, row_labels):
        for axis, image in zip(axes_row, images):
            axis.imshow(np.asarray(image)[..., 0], cmap="gray_r", vmin=0.0, vmax=1.0)
            axis.set_xticks([])
            axis.set_yticks([])
        axes_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
