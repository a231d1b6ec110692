"""featx run as a list of stages (issue 22): declared inputs and outputs, checked order, and a
stage that sees only what it declared."""

from __future__ import annotations

import pytest

from featx.common.stages import Stages
from featx.pipelines.stages import GIVEN, Stage, StageOrderError, check_order, job_stages, run_stages


def test_the_job_list_is_in_an_order_where_every_input_is_provided():
    stages = job_stages()
    check_order(stages, GIVEN)
    assert [s.name for s in stages] == ["extract", "load", "cv", "audit", "explore", "learning_curve", "pca", "logme",
                                        "transfer", "report"]
    assert stages[-1].outputs == ("result",)


def test_a_wrongly_ordered_list_is_refused_in_one_line_naming_the_stage_and_input():
    stages = job_stages()
    load, cv = stages[1], stages[2]
    with pytest.raises(StageOrderError) as err:
        check_order([stages[0], cv, load, *stages[3:]], GIVEN)
    message = str(err.value)
    assert message.startswith("stage 'cv' reads feature_sets, audit_info, which no stage before it provides")
    assert "\n" not in message


def test_an_output_provided_twice_is_refused():
    s = Stage("a", "a", lambda ctx: {"x": 1}, outputs=("x",))
    with pytest.raises(StageOrderError, match="stage 'b' provides x again"):
        check_order([s, Stage("b", "b", lambda ctx: {"x": 2}, outputs=("x",))], ())


def test_a_stage_sees_only_its_declared_inputs_and_must_return_its_outputs():
    seen = {}

    def first(ctx):
        seen["first"] = sorted(ctx)
        return {"x": ctx["a"] + 1}

    def sneaky(ctx):
        return {"y": ctx["a"]}  # 'a' is in the job's context, but this stage did not declare it

    ctx = run_stages([Stage("first", "one", first, inputs=("a",), outputs=("x",))], {"a": 1, "b": 2}, Stages(False), None)
    assert seen["first"] == ["a"] and ctx["x"] == 2
    with pytest.raises(KeyError):
        run_stages([Stage("sneaky", "s", sneaky, inputs=("b",), outputs=("y",))], {"a": 1, "b": 2}, Stages(False), None)
    with pytest.raises(StageOrderError, match="returned"):
        run_stages([Stage("bad", "s", lambda ctx: {"z": 1}, outputs=("y",))], {}, Stages(False), None)


def test_a_disabled_stage_provides_empty_outputs_and_is_not_run_or_timed():
    runner = Stages(False)
    off = Stage("off", "never", lambda ctx: pytest.fail("ran"), outputs=("curves",), enabled=lambda spec: False)
    ctx = run_stages([off], {}, runner, None)
    assert ctx["curves"] == {} and "off" not in runner.timings
