"""What every chapter's setup cell shares: one line about the run, and `glue` for quoted numbers."""

import html
import numbers

import keras
import tensorflow as tf

from vae_helpers import config


def setup_line(mnist=None):
    """One line: the book's version, TensorFlow and Keras versions, the device, quick or full mode,
    and the data used."""
    import keras

    import vae_helpers

    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU ({len(gpus)} found)" if gpus else "CPU only (in Colab: Runtime > Change runtime type > GPU)"
    versions = f"vae_helpers {vae_helpers.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}"
    parts = [versions, f"device: {device}", config.mode_name()]
    if mnist is not None:
        parts.append(f"data: {mnist.description}")
    return " | ".join(parts)


def fit_log():
    """Keyword arguments for `fit` (or `training.train`, `runs.book_model`) that show training the
    way the reader looks at it: Keras' live progress bar in Colab; elsewhere, and so in the
    rendered book, one line per epoch with fixed-point numbers, all in one output block.

    Returns:
      {"verbose": ..., "callbacks": [...]}.
    """
    if fit_verbosity() == 1:
        return {"verbose": 1, "callbacks": []}
    return {"verbose": 0, "callbacks": [EpochLines()]}


class EpochLines(keras.callbacks.Callback):
    """Prints one narrow line per epoch: the ELBO, the reconstruction loss and the KL, each on the
    training set and (when `fit` has validation data) the test set, fixed-point, in nats."""

    TERMS = (("elbo", "ELBO"), ("reconstruction_loss", "reconstruction"), ("kl_loss", "KL"))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        sides = ("", "val_") if "val_elbo" in logs else ("",)
        if not getattr(self, "_header_printed", False):  # once per fit
            self._header_printed = True
            names = "".join(f"{label:>{10 * len(sides)}}  " for _, label in self.TERMS)
            sets = "".join("".join(f"{'test' if side else 'train':>10}" for side in sides) + "  "
                           for _ in self.TERMS)
            print(f"{'epoch':>7}  {names}".rstrip() + "\n" + f"{'':>7}  {sets}".rstrip(), flush=True)
        values = "".join("".join(f"{float(logs.get(side + key, float('nan'))):10.2f}" for side in sides) + "  "
                         for key, _ in self.TERMS)
        print(f"{epoch + 1:>3}/{self.params.get('epochs', '?'):<3}  {values}".rstrip(), flush=True)


def fit_verbosity():
    """Keras' progress bar (1) where someone watches (Colab), one line per epoch (2) elsewhere:
    in the rendered book a bar's hundreds of redraws would be noise."""
    import sys

    return 1 if "google.colab" in sys.modules else 2


def add_to_class(cls):
    """Decorator that attaches the function below it to `cls` as a method (or property).

    Lets a chapter write one class over several cells with prose between them, as d2l does:
    `@notebook.add_to_class(CVAE)` above `def train_step(self, data): ...` adds `train_step`.
    """

    def attach(member):
        name = member.fget.__name__ if isinstance(member, property) else member.__name__
        setattr(cls, name, member)
        return member

    return attach


def glue(name, value, display=False):
    """Records `value` for the book's prose (`{glue:text}` roles); a no-op where myst-nb is absent
    (Colab), so the same cell runs everywhere."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)


class Table:
    """A result table: a real HTML <table> in the book and in Jupyter (`_repr_html_`), aligned
    text in a terminal (`repr`). Build it with `table`."""

    def __init__(self, header, body, caption, numeric):
        self.header, self.body, self.caption, self._numeric = header, body, caption, numeric

    def _repr_html_(self):
        def cell(tag, text, numeric):
            # Numbers right-aligned so that their decimal points line up down a column.
            style = ' style="text-align: right"' if numeric else ' style="text-align: left"'
            return f"<{tag}{style}>{html.escape(text)}</{tag}>"

        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(cell("th", name, numeric) for name, numeric in zip(self.header, self._numeric))
        rows = "".join(
            "<tr>" + "".join(cell("td", text, numeric) for text, numeric in zip(row, self._numeric)) + "</tr>"
            for row in self.body
        )
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def __repr__(self):
        widths = [max(len(text) for text in column) for column in zip(self.header, *self.body)]

        def line(texts):
            return "  ".join(
                text.rjust(width) if numeric else text.ljust(width)
                for text, width, numeric in zip(texts, widths, self._numeric)
            ).rstrip()

        rule = "  ".join("-" * width for width in widths)
        lines = ([self.caption] if self.caption else []) + [line(self.header), rule]
        return "\n".join(lines + [line(row) for row in self.body])


def table(rows, columns, formats=None, caption=None):
    """A table of results that renders as a table in the book (HTML), not as monospaced text.

    Args:
      rows: a sequence of rows, each a sequence with one value per column (None: an empty cell).
      columns: the column headings (strings); put units in them, e.g. "ELBO (nats)", and give
        standard errors a column of their own.
      formats: optional {column heading: format spec}, e.g. {"ELBO (nats)": ".2f"}. Columns
        without one show floats with 2 decimals and anything else with str().
      caption: optional line shown above the table.
    Returns:
      A `Table`; make it a cell's last expression (or `display` it) to show it.
    """
    columns = [str(name) for name in columns]
    formats = dict(formats or {})
    unknown = sorted(set(formats) - set(columns))
    if unknown:
        raise ValueError(f"formats names columns that the table does not have: {unknown}; the columns are {columns}.")
    body = []
    numeric = [True] * len(columns)
    for index, row in enumerate(rows):
        row = list(row)
        if len(row) != len(columns):
            raise ValueError(
                f"row {index} has {len(row)} values but there are {len(columns)} columns {columns}: "
                "give every row one value per column."
            )
        texts = []
        for position, (name, value) in enumerate(zip(columns, row)):
            if value is None:  # an empty cell, which leaves the column's alignment alone
                texts.append("")
                continue
            is_number = isinstance(value, numbers.Number) and not isinstance(value, bool)
            numeric[position] = numeric[position] and is_number
            if name in formats:
                texts.append(format(value, formats[name]))
            elif isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
                texts.append(f"{value:.2f}")
            else:
                texts.append(str(value))
        body.append(texts)
    return Table(columns, body, None if caption is None else str(caption), numeric)
