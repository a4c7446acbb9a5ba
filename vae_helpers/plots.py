"""Figures the chapters share. Every function returns the matplotlib Figure it drew."""

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
