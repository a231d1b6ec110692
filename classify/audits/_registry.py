"""The audit-check registry: one :class:`~featx.common.registry.Registry` of checks, each
``check(ctx) -> findings`` with a name and a help line. The seven built-in checks
(:data:`BUILTIN_AUDIT_KEYS`, ``_builtin``) are its first entries, marked built in: they cannot be
removed or replaced and a user check cannot take their names. :func:`register_audit_check` adds a
user check after them. :func:`~featx.classify.audit` runs every check, in registration order, on
one read-only :class:`AuditContext` (what the audit computed once); ``Audit.to_json()`` (``featx
audit --json``, when the check is registered in the same process before
``featx.pipelines.cli.main([...])``) is ``{name: findings}`` in that order, and ``Audit.extra``
the user checks' part. ``featx run``'s results.json and report read the built-in checks' findings
(:func:`run_audit_checks` with ``builtin_only=True``).

A user check's ``findings`` may be anything JSON-able (list or dict; numpy values are converted).

Light (no scikit-learn)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from featx.classify.audits._builtin import BUILTIN_CHECKS
from featx.classify._errors import ParameterError
from featx.common.registry import Registry


@dataclasses.dataclass(frozen=True)
class AuditCheckSpec:
    """One registered audit check: ``check(ctx)`` returns its findings (JSON-able)."""

    name: str
    check: Callable
    help: str = ""
    builtin: bool = False


@dataclasses.dataclass(frozen=True)
class AuditContext:
    """What :func:`~featx.classify.audit` computed, handed to each registered check (read-only:
    the arrays are non-writable views).

    ``feature_set`` the audited (labelled) FeatureSet; ``X`` its features, ``labels`` its labels
    (class indices), ``class_names``, ``paths`` (row names), ``groups`` the user's groups or None;
    ``Z`` the reduced (unit-norm) features the neighbour search ran on and ``knn`` its
    ``(indices, cosines)``, both (n, k), nearest first (row ``i``'s other rows; None for one row); ``exact`` (lists of rows) and
    ``near`` (``(rows, min_similarity)``) clusters, ``leak_groups`` (a group id per row);
    ``oof_pred`` / ``oof_proba`` the leak-proof out-of-fold predictions / mean probabilities of
    ``head``; ``label_issues`` (a LabelIssues), ``outlier_scores`` (k-NN distance per row),
    ``calibration`` and ``leak`` (the dicts of the result), ``image_stats`` (pixel statistics per
    row, or None), ``seed``; ``outliers`` the reported outlier rows (farthest first) and
    ``image_issues`` the ``(row, issue, score)`` image-quality issues (None: no pixel statistics).

    In ``featx run``'s audit (built-in checks only) ``Z`` and ``knn`` are None."""

    feature_set: object
    X: object
    labels: object
    class_names: tuple
    paths: tuple
    groups: object
    Z: object
    knn: object
    exact: tuple
    near: tuple
    leak_groups: object
    oof_pred: object
    oof_proba: object
    head: str
    label_issues: object
    outlier_scores: object
    calibration: dict
    leak: dict
    image_stats: object
    seed: int
    outliers: object = ()
    image_issues: object = None


_CHECKS = Registry("audit check", ParameterError, fixed_builtins=True)
for _name, _check, _help in BUILTIN_CHECKS:
    _CHECKS.add(_name, AuditCheckSpec(name=_name, check=_check, help=_help, builtin=True), builtin=True)

#: The ``featx audit --json`` keys of the built-in checks, in order; not available as check names.
BUILTIN_AUDIT_KEYS = tuple(_CHECKS.names())


def register_audit_check(name: str, check: Callable | None = None, *, help: str = "", replace: bool = False):
    """Register the audit check ``name``; returns ``check``, so it also works as a decorator:
    ``@register_audit_check("label_neighbours", help="rows whose nearest neighbour has another label")``.

    A name already registered is refused (unless ``replace=True``), a built-in one
    (:data:`BUILTIN_AUDIT_KEYS`) always; the check lands after the built-in ones."""
    if check is None:
        return lambda f: register_audit_check(name, f, help=help, replace=replace)
    _CHECKS.check_name(name, replace=replace)
    if not callable(check):
        raise ParameterError(f"audit check {name!r} must be callable (a function of one AuditContext), got {check!r}")
    _CHECKS.add(name, AuditCheckSpec(name=name, check=check, help=str(help)), replace=replace)
    return check


def unregister_audit_check(name: str) -> None:
    """Remove a check registered with :func:`register_audit_check`; a built-in one stays (one-line
    :class:`ParameterError`)."""
    _CHECKS.remove(name)


def audit_check_spec(name) -> AuditCheckSpec:
    """The :class:`AuditCheckSpec` of ``name`` (built in or registered); a one-line
    :class:`ParameterError` (with a suggestion and the check names) otherwise."""
    return _CHECKS.entry(name)


def list_audit_checks(pattern: str = "*") -> list[str]:
    """Audit check names matching the shell-style ``pattern``, in registration order: the built-in
    ones (:data:`BUILTIN_AUDIT_KEYS`) first, then the user's; the ``featx audit --json`` keys."""
    return _CHECKS.names(pattern)


def _frozen(a):
    import numpy as np

    if isinstance(a, np.ndarray):
        v = a.view()
        v.flags.writeable = False
        return v
    if type(a) is tuple and a and all(isinstance(x, np.ndarray) for x in a):  # knn's (indices, cosines)
        return tuple(_frozen(x) for x in a)
    return a


def make_context(**values) -> AuditContext:
    """An :class:`AuditContext` whose arrays are non-writable views."""
    return AuditContext(**{k: _frozen(v) for k, v in values.items()})


def run_audit_checks(ctx: AuditContext, *, builtin_only: bool = False) -> dict:
    """``{name: findings}`` of every check (``builtin_only``: of the built-in ones), in
    registration order. A user check that fails or returns something that is not JSON-able stops
    the audit with a one-line ParameterError; a built-in check's error is featx's bug and raised
    as it is."""
    import json

    from featx.common import to_jsonable

    out = {}
    for name, spec in list(_CHECKS.items()):
        if spec.builtin:
            out[name] = spec.check(ctx)
            continue
        if builtin_only:
            continue
        try:
            found = spec.check(ctx)
        except Exception as exc:  # the user's code: one line that names the check
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ParameterError(f"audit check {name!r} failed: {type(exc).__name__}: {first}; fix the check or "
                                 f"unregister_audit_check({name!r})") from exc
        try:
            found = to_jsonable(found)
            json.dumps(found)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"audit check {name!r} returned findings that are not JSON-able ({exc}); return "
                                 f"lists, dicts, numbers and strings") from exc
        out[name] = found
    return out
