"""The audit-check registry: :func:`register_audit_check` gives a check a name, a function and a
help line; :func:`~featx.classify.audit` then runs every registered check after its built-in ones
and puts each one's findings in ``Audit.extra[name]`` and, in the same order after the built-in
keys, in :meth:`~featx.classify.Audit.to_json` (so in ``featx audit --json`` when the check is
registered in the same process before ``featx.pipelines.cli.main([...])``).

A check is ``check(ctx) -> findings``: ``ctx`` is one read-only :class:`AuditContext` (what the
audit computed), ``findings`` anything JSON-able (list or dict; numpy values are converted).

The built-in checks (exact/near duplicates, leak, label issues, outliers, calibration, image
issues) are not registrations: they feed one another and the ``Audit`` fields, and their names are
reserved here (:data:`BUILTIN_AUDIT_KEYS`) so that no user check shadows a ``--json`` key.

Light (no scikit-learn)."""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Callable

from featx.classify._errors import ParameterError, unknown_message

#: The ``featx audit --json`` keys of the built-in checks, in order; not available as check names.
BUILTIN_AUDIT_KEYS = ("exact_duplicates", "near_duplicates", "label_issues", "outliers", "calibration", "leak",
                      "image_issues")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclasses.dataclass(frozen=True)
class AuditCheckSpec:
    """One registered audit check: ``check(ctx)`` returns its findings (JSON-able)."""

    name: str
    check: Callable
    help: str = ""


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
    row, or None), ``seed``."""

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


_CHECKS: dict[str, AuditCheckSpec] = {}


def register_audit_check(name: str, check: Callable | None = None, *, help: str = "", replace: bool = False):
    """Register the audit check ``name``; returns ``check``, so it also works as a decorator:
    ``@register_audit_check("label_neighbours", help="rows whose nearest neighbour has another label")``.

    A name already registered, or one of :data:`BUILTIN_AUDIT_KEYS`, is refused (the first unless
    ``replace=True``)."""
    if check is None:
        return lambda f: register_audit_check(name, f, help=help, replace=replace)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(f"an audit check name must be a word of letters, digits, '_', '.' or '-' starting with a "
                             f"letter; got {name!r}")
    if name in BUILTIN_AUDIT_KEYS:
        raise ParameterError(f"audit check name {name!r} is a built-in audit key ({', '.join(BUILTIN_AUDIT_KEYS)}); "
                             f"pick another name")
    if name in _CHECKS and not replace:
        raise ParameterError(f"audit check {name!r} is already registered; pick another name or pass replace=True")
    if not callable(check):
        raise ParameterError(f"audit check {name!r} must be callable (a function of one AuditContext), got {check!r}")
    _CHECKS[name] = AuditCheckSpec(name=name, check=check, help=str(help))
    return check


def unregister_audit_check(name: str) -> None:
    """Remove a check registered with :func:`register_audit_check`."""
    audit_check_spec(name)
    del _CHECKS[name]


def audit_check_spec(name) -> AuditCheckSpec:
    """The registered :class:`AuditCheckSpec` of ``name``; a one-line :class:`ParameterError`
    (with a suggestion and the registered names) otherwise."""
    spec = _CHECKS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ParameterError(unknown_message("audit check", name, tuple(_CHECKS)))
    return spec


def list_audit_checks(pattern: str = "*") -> list[str]:
    """Registered audit check names matching the shell-style ``pattern``, in registration order."""
    return [n for n in _CHECKS if fnmatch.fnmatchcase(n, pattern)]


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


def run_audit_checks(ctx: AuditContext) -> dict:
    """``{name: findings}`` of every registered check, in registration order; a check that fails
    or returns something that is not JSON-able stops the audit with a one-line ParameterError."""
    import json

    from featx.common import to_jsonable

    out = {}
    for name, spec in list(_CHECKS.items()):
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
