"""The training log the book prints: one narrow fixed-point line per epoch (notebook.fit_log)."""

import re

from vae_helpers import notebook

LOGS = {"loss": 117.384, "elbo": -117.384, "reconstruction_loss": 113.9, "kl_loss": 3.484,
        "val_loss": 100.0, "val_elbo": -100.125, "val_reconstruction_loss": 95.0, "val_kl_loss": 5.125}


def test_one_fixed_point_line_per_epoch_after_one_header(capsys):
    log = notebook.EpochLines()
    log.params = {"epochs": 40}
    for epoch in range(3):
        log.on_epoch_end(epoch, LOGS)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 3 and "ELBO" in lines[0] and "test" in lines[1]
    assert lines[2].split() == ["1/40", "-117.38", "-100.12", "113.90", "95.00", "3.48", "5.12"]
    # Narrow enough for the book's output box (about 80 characters), no exponent notation.
    assert all(len(line) <= 78 for line in lines) and not any(re.search(r"\de[+-]\d", line) for line in lines)


def test_without_a_test_set_only_the_training_columns(capsys):
    log = notebook.EpochLines()
    log.params = {"epochs": 1}
    log.on_epoch_end(0, {key: value for key, value in LOGS.items() if not key.startswith("val_")})
    lines = capsys.readouterr().out.splitlines()
    assert "test" not in lines[1] and lines[2].split() == ["1/1", "-117.38", "113.90", "3.48"]


def test_fit_log_prints_lines_outside_colab():
    arguments = notebook.fit_log()
    assert arguments["verbose"] == 0 and isinstance(arguments["callbacks"][0], notebook.EpochLines)
