"""A job as a list of stages: each :class:`Stage` declares the names it reads from the job's
context and the names it adds to it; :func:`check_order` refuses a list in which a stage reads a
name no earlier stage (nor the job) provides, and :func:`run_stages` runs the list in order, each
stage timed and announced by :class:`featx.common.stages.Stages`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping


class StageOrderError(ValueError):
    """A stage list whose stages read names that nothing before them provides."""


@dataclasses.dataclass(frozen=True)
class Stage:
    """One step of a job.

    ``run(ctx)`` gets the declared ``inputs`` of the job's context (only those: a name it did not
    declare is a KeyError) and returns a dict holding exactly ``outputs``; ``title`` is the line announcing it (a string, or a function of the
    context for a line that counts what it will do); a stage that ``enabled(spec)`` turns off
    provides ``empty()`` for each output instead. ``cache`` says where its results are kept
    between runs and what names them (``""``: recomputed every run).
    """

    name: str
    title: str | Callable[[Mapping], str]
    run: Callable[[dict], Mapping]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    enabled: Callable[[object], bool] = lambda spec: True
    empty: Callable[[], object] = dict
    cache: str = ""

    def label(self, ctx: Mapping) -> str:
        return self.title(ctx) if callable(self.title) else self.title


def check_order(stages: Iterable[Stage], given: Iterable[str]) -> None:
    """Raise :class:`StageOrderError` (one line) unless every stage's inputs are in ``given`` or
    among the outputs of a stage before it, and no two stages provide the same name."""
    have = set(given)
    for stage in stages:
        missing = [n for n in stage.inputs if n not in have]
        if missing:
            raise StageOrderError(f"stage {stage.name!r} reads {', '.join(missing)}, which no stage before it provides; "
                                  f"put the stage that provides {'them' if len(missing) > 1 else 'it'} first")
        twice = [n for n in stage.outputs if n in have]
        if twice:
            raise StageOrderError(f"stage {stage.name!r} provides {', '.join(twice)} again; give each output one stage")
        have.update(stage.outputs)


def run_stages(stages: list[Stage], ctx: dict, runner, spec) -> dict:
    """Run ``stages`` in order on ``ctx`` (checked first with :func:`check_order`); ``runner`` is
    the job's :class:`~featx.common.stages.Stages`. Returns ``ctx`` with every output added."""
    check_order(stages, ctx)
    for stage in stages:
        if not stage.enabled(spec):
            ctx.update({name: stage.empty() for name in stage.outputs})
            continue
        view = {name: ctx[name] for name in stage.inputs}  # a stage sees only what it declared
        with runner.run(stage.name, stage.label(view)):
            out = stage.run(view)
        wrong = set(out) ^ set(stage.outputs)
        if wrong:
            raise StageOrderError(f"stage {stage.name!r} returned {sorted(out)}, declared {sorted(stage.outputs)}")
        ctx.update(out)
    return ctx
