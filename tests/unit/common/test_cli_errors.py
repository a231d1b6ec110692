"""featx.common.cli_errors.handle_errors: how a CLI handler ends (the broken-pipe cases run in
subprocesses in tests/unit/pipelines/test_cli_pipe.py)."""

from __future__ import annotations

import pytest

from featx.common.cli_errors import handle_errors


class UserError(Exception):
    pass


def _types(asked: list):
    def types():
        asked.append(1)
        return (UserError,)
    return types


def test_user_errors_and_os_errors_are_one_line_and_code_2(capsys):
    asked: list = []
    with handle_errors(_types(asked)) as outcome:
        print("fine")
    assert outcome.code == 0 and asked == []  # the types are asked only when something is raised
    with handle_errors(_types(asked)) as outcome:
        raise UserError("bad value 'x'; choose from: a, b")
    assert outcome.code == 2 and capsys.readouterr().err == "error: bad value 'x'; choose from: a, b\n"
    with handle_errors(_types(asked)) as outcome:
        open("/nonexistent/featx/file")
    assert outcome.code == 2
    assert capsys.readouterr().err == ("error: No such file or directory (/nonexistent/featx/file); check the path, "
                                       "permissions and free space\n")
    with handle_errors(_types(asked)) as outcome:
        raise KeyboardInterrupt
    assert outcome.code == 130 and "rerun the same command to resume" in capsys.readouterr().err


def test_debug_reraises_and_other_errors_pass_through():
    for error in (UserError("x"), FileNotFoundError(2, "gone")):
        with pytest.raises(type(error)), handle_errors(_types([]), debug=True):
            raise error
    with pytest.raises(ZeroDivisionError), handle_errors(_types([])):
        1 / 0
