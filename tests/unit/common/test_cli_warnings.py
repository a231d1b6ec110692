"""featx.common.cli_errors.warning_lines: caught warnings as ``warning:`` lines on stderr."""

from __future__ import annotations

import warnings

import pytest

from featx.common.cli_errors import warning_lines


class Mine(UserWarning):
    pass


def test_category_becomes_lines_each_time_and_others_pass_through(capsys):
    with pytest.warns(DeprecationWarning, match="old"):
        with warning_lines(Mine):
            for _ in range(2):
                warnings.warn("exact copies", Mine)
            warnings.warn("old", DeprecationWarning)
    assert capsys.readouterr().err == "warning: exact copies\nwarning: exact copies\n"


def test_shown_widens_what_is_printed_and_errors_print_nothing(capsys):
    with warning_lines(Mine, shown=Warning):
        warnings.warn("pickle", Mine)
        warnings.warn("other", RuntimeWarning)
    assert capsys.readouterr().err == "warning: pickle\nwarning: other\n"
    with pytest.raises(ValueError):
        with warning_lines(Mine):
            warnings.warn("lost with the error", Mine)
            raise ValueError("boom")
    assert capsys.readouterr().err == ""
