from html.parser import HTMLParser

import numpy as np
import pytest

from vae_helpers import notebook


class _Cells(HTMLParser):
    """Collects the text of every <th>/<td> by row, and the caption, with the stdlib's parser."""

    def __init__(self):
        super().__init__()
        self.rows, self.caption, self.tags, self._in = [], "", [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self.rows[-1].append("")
            self._in = "cell"
        elif tag == "caption":
            self._in = "caption"

    def handle_endtag(self, tag):
        if tag in ("th", "td", "caption"):
            self._in = None

    def handle_data(self, text):
        if self._in == "cell":
            self.rows[-1][-1] += text
        elif self._in == "caption":
            self.caption += text


def _parse(html):
    parser = _Cells()
    parser.feed(html)
    return parser


def test_html_is_a_table_with_a_header_row_and_one_row_per_result():
    result = notebook.table(
        [("latent 2", -140.123, 0.456), ("latent 16", -95.0, 1.0)],
        ["model", "ELBO (nats)", "standard error (nats)"],
        formats={"standard error (nats)": ".3f"},
        caption="Test set",
    )
    parsed = _parse(result._repr_html_())
    assert parsed.tags[0] == "table" and parsed.tags.count("thead") == 1 and parsed.tags.count("tbody") == 1
    assert parsed.caption == "Test set"
    assert parsed.rows == [
        ["model", "ELBO (nats)", "standard error (nats)"],
        ["latent 2", "-140.12", "0.456"],
        ["latent 16", "-95.00", "1.000"],
    ]


def test_text_is_escaped_in_html():
    result = notebook.table([("<b>&", 1)], ["a<b", "n"])
    parsed = _parse(result._repr_html_())
    assert parsed.rows == [["a<b", "n"], ["<b>&", "1"]]
    assert "b" not in parsed.tags  # the cell's "<b>" is text, not markup


def test_text_columns_line_up_with_numbers_right_aligned():
    result = notebook.table([("static", -94.5, 1.07), ("dynamic", -100.25, 12.5)], ["set", "ELBO", "error"])
    lines = repr(result).splitlines()
    assert lines[0].split() == ["set", "ELBO", "error"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    rows = lines[2:]
    assert [line.split() for line in rows] == [["static", "-94.50", "1.07"], ["dynamic", "-100.25", "12.50"]]
    # Every number column ends at the same character position on every line.
    for value_index in (1, 2):
        ends = {line.index(line.split()[value_index]) + len(line.split()[value_index]) for line in rows}
        assert len(ends) == 1


def test_numpy_numbers_are_numbers():
    result = notebook.table([(np.float32(1.5), np.int64(3))], ["x", "count"])
    assert _parse(result._repr_html_()).rows[1] == ["1.50", "3"]
    assert 'style="text-align: right"' in result._repr_html_()


def test_none_is_an_empty_cell_that_keeps_a_number_column_right_aligned():
    result = notebook.table([("a", None), ("b", 2.5)], ["name", "rise"])
    assert _parse(result._repr_html_()).rows[1:] == [["a", ""], ["b", "2.50"]]
    assert result._repr_html_().count('style="text-align: right"') == 3  # header and both cells


def test_bad_rows_and_formats_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="one value per column"):
        notebook.table([(1, 2, 3)], ["a", "b"])
    with pytest.raises(ValueError, match="does not have"):
        notebook.table([(1, 2)], ["a", "b"], formats={"c": ".1f"})
