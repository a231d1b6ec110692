"""LogME (You et al., "LogME: Practical Assessment of Pre-trained Models for Transfer Learning",
ICML 2021): a transferability score of features for labels, computed without any training loop
or cross-validation, so many (backbone, layer) feature sets can be shortlisted before paying for CV.

For each class ``k`` the one-hot target ``t`` is modelled as Bayesian linear regression on the
features ``F`` (n, d): ``w ~ N(0, alpha^-1 I)``, ``t | F, w ~ N(F w, beta^-1 I)``. The evidence
``p(t | F, alpha, beta)`` is maximised over ``alpha`` and ``beta`` on one eigendecomposition of
the smaller Gram matrix of ``F`` (see :func:`spectrum` and :func:`maximise_evidence`); LogME is
the maximised log evidence per row, averaged over the classes. Higher is better; scores of
feature sets for the same labels are comparable, scores for different labels are not. As in the
paper, the features are used as they are (no centring, no bias column).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence

import numpy as np

from featx.classify._errors import FeatureSetError, ParameterError
from featx.classify._features import FeatureSet


def log_evidence(alpha: float, beta: float, s2: np.ndarray, z: np.ndarray, t_norm2: float, n: int, d: int):
    """The log evidence of one target for given ``alpha``, ``beta``.

    ``s2``: the non-zero squared singular values of ``F`` (k of them); ``z = U^T t`` with ``U``
    their left singular vectors; ``t_norm2 = ||t||^2``. Closed form: with ``A = alpha I + beta F^T F``
    and ``m = beta A^-1 F^T t``, ``log p = d/2 log alpha + n/2 log beta - n/2 log 2 pi
    - beta/2 ||t - F m||^2 - alpha/2 ||m||^2 - 1/2 log |A|``.
    """
    denom = alpha + beta * s2
    m2 = float(np.sum((beta * np.sqrt(s2) * z / denom) ** 2))
    residual = float(max(t_norm2 - np.sum(z * z), 0.0) + np.sum((alpha * z / denom) ** 2))
    log_det = float(np.sum(np.log(denom)) + (d - len(s2)) * math.log(alpha))
    evidence = (d / 2 * math.log(alpha) + n / 2 * math.log(beta) - n / 2 * math.log(2 * math.pi)
                - beta / 2 * residual - alpha / 2 * m2 - log_det / 2)
    return evidence


def profile_beta(lam: float, s2: np.ndarray, z: np.ndarray, t_norm2: float, n: int) -> float:
    """The best ``beta`` for a ratio ``lam = alpha / beta``: every term of the log evidence but
    ``n/2 log beta - beta/2 (||t - F m||^2 + lam ||m||^2)`` depends on ``lam`` only, so the
    maximum over ``beta`` is ``n / (||t - F m||^2 + lam ||m||^2)`` (``m`` depends on ``lam`` only)."""
    denom = lam + s2
    m2 = float(np.sum((np.sqrt(s2) * z / denom) ** 2))
    residual = float(max(t_norm2 - np.sum(z * z), 0.0) + np.sum((lam * z / denom) ** 2))
    return n / max(residual + lam * m2, 1e-300)


LOG_LAM_RANGE = 10.0  # lam = alpha/beta is searched in mean(s^2) * 10^[-10, 10]
GRID_POINTS = 81


def maximise_evidence(s2, z, t_norm2, n, d):
    """(log evidence, alpha, beta) maximised: ``beta`` profiled out exactly, ``lam = alpha/beta``
    on a log grid then refined by bounded Brent search around the best grid point. This reaches
    the maximum the paper's fixed-point updates converge to, and stays finite where they run off
    to beta -> infinity (fewer rows than features and a target the features interpolate)."""
    from scipy.optimize import minimize_scalar

    scale = float(np.mean(s2)) if np.any(s2 > 0) else 1.0

    def negative(log_lam):
        lam = scale * 10.0 ** log_lam
        beta = profile_beta(lam, s2, z, t_norm2, n)
        return -log_evidence(lam * beta, beta, s2, z, t_norm2, n, d)

    grid = np.linspace(-LOG_LAM_RANGE, LOG_LAM_RANGE, GRID_POINTS)
    values = [negative(g) for g in grid]
    k = int(np.argmin(values))
    step = grid[1] - grid[0]
    lo, hi = max(grid[k] - step, grid[0]), min(grid[k] + step, grid[-1])
    best = minimize_scalar(negative, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    log_lam = best.x if best.fun <= values[k] else grid[k]
    lam = scale * 10.0 ** log_lam
    beta = profile_beta(lam, s2, z, t_norm2, n)
    return -negative(log_lam), lam * beta, beta


def logme(X, y) -> float:
    """The LogME score of features ``X`` (n, d) for integer or string labels ``y`` (n,): the
    maximised log evidence per row, averaged over the one-hot targets of the classes present."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise FeatureSetError(f"logme needs 2-D features (rows, features); got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise FeatureSetError(f"logme needs one label per row: X has {X.shape[0]} rows, y has shape {y.shape}")
    if not np.isfinite(X).all():
        raise FeatureSetError("logme needs finite features; X contains NaN or inf (re-extract with --dtype float32)")
    classes = np.unique(y)
    if len(classes) < 2:
        raise FeatureSetError(f"logme needs at least two classes; y holds only {classes.tolist()}")
    from threadpoolctl import threadpool_limits

    n, d = X.shape
    # one BLAS thread: on a shared CPU, multi-threaded BLAS waits for its threads to be scheduled;
    # measured at load 16 on 2 cores, 9 hymenoptera feature sets took 5-11 s with the default
    # threads and 0.6-0.7 s with one (benchmarks/bench_backbones_logme.py)
    with threadpool_limits(1):
        s2, project = spectrum(X)
        scores = []
        for c in classes:
            t = (y == c).astype(np.float64)
            evidence, _, _ = maximise_evidence(s2, project(t), float(t @ t), n, d)
            scores.append(evidence / n)
    return float(np.mean(scores))


def spectrum(X: np.ndarray):
    """(squared singular values of ``X``, t -> U^T t) from an eigendecomposition of the smaller
    Gram matrix (one matrix product and an eigh of min(n, d) squared: several times faster than an
    SVD of X, and far steadier on a loaded CPU). Directions with a zero singular value are dropped,
    which leaves the evidence unchanged (their terms cancel)."""
    n, d = X.shape
    if n <= d:
        s2, u = np.linalg.eigh(X @ X.T)
    else:
        s2, v = np.linalg.eigh(X.T @ X)
    keep = s2 > max(float(s2.max()), 0.0) * 1e-12
    s2 = s2[keep]
    if n <= d:
        u = u[:, keep]
        return s2, lambda t: u.T @ t
    v = v[:, keep] / np.sqrt(s2)  # U = X V S^-1, so U^T t = S^-1 V^T X^T t
    return s2, lambda t: v.T @ (X.T @ t)


@dataclasses.dataclass(frozen=True)
class LogMERanking:
    """LogME of several feature sets of the same labels, best first, and (with :meth:`versus`)
    its agreement with a cross-validated ranking."""

    scores: dict  # feature set name -> LogME, best first
    seconds: float  # total time for all of them
    cv_scores: dict = dataclasses.field(default_factory=dict)  # name -> CV metric (best head), when compared
    metric: str | None = None
    spearman: float | None = None
    kendall: float | None = None

    def versus(self, cv_scores: Mapping[str, float], metric: str) -> "LogMERanking":
        """This ranking beside ``cv_scores`` (feature set -> cross-validated ``metric``, higher
        better) with their Spearman and Kendall rank correlations (NaN below 3 feature sets, or when
        either side's scores all tie)."""
        from scipy import stats

        missing = [name for name in self.scores if name not in cv_scores]
        if missing:
            raise ParameterError(f"no cross-validated score for feature set(s) {missing}; rank the same feature sets")
        names = list(self.scores)
        a = [self.scores[k] for k in names]
        b = [float(cv_scores[k]) for k in names]
        rho = tau = float("nan")
        if len(names) >= 3 and len(set(a)) > 1 and len(set(b)) > 1:  # else undefined: too few, or all tied
            rho = float(stats.spearmanr(a, b).statistic)
            tau = float(stats.kendalltau(a, b).statistic)
        return dataclasses.replace(self, cv_scores={k: float(cv_scores[k]) for k in names}, metric=metric,
                                   spearman=rho, kendall=tau)

    def to_record(self) -> dict:
        """A JSON-ready dict: rows best first by LogME with their CV rank, and the correlations."""
        cv_rank = {k: i + 1 for i, k in enumerate(sorted(self.cv_scores, key=lambda k: -self.cv_scores[k]))}
        rows = [{"feature_set": k, "logme": v, "logme_rank": i + 1, "cv": self.cv_scores.get(k),
                 "cv_rank": cv_rank.get(k)} for i, (k, v) in enumerate(self.scores.items())]
        return {"rows": rows, "metric": self.metric, "spearman": self.spearman, "kendall": self.kendall,
                "time_s": self.seconds}

    def table(self, digits: int = 3) -> str:
        """Plain text for the CLI: one line per feature set, then the rank correlations."""
        record = self.to_record()
        width = max(len("feature_set"), *(len(r["feature_set"]) for r in record["rows"]))
        metric = self.metric or "cv"
        w = max(len(metric), 8)
        lines = [f"{'feature_set':<{width}}  {'logme':>9}  rank  {metric:>{w}}  cv_rank", "-" * (width + w + 31)]
        for r in record["rows"]:
            cv = "-" if r["cv"] is None else f"{r['cv']:.{digits}f}"
            lines.append(f"{r['feature_set']:<{width}}  {r['logme']:>9.4f}  {r['logme_rank']:>4}  {cv:>{w}}  "
                         f"{r['cv_rank'] or '-':>7}")
        if self.metric is not None:
            lines.append(f"rank correlation with cv {metric}: " + _correlations(self.spearman, self.kendall)
                         + f"; LogME took {self.seconds:.2f} s for {len(self.scores)} feature set(s)")
        return "\n".join(lines)


def _correlations(rho, tau) -> str:
    if rho is None or math.isnan(rho):
        return "undefined (fewer than 3 feature sets, or all scores tied)"
    return f"Spearman {rho:+.2f}, Kendall {tau:+.2f}"


def rank_logme(feature_sets: Sequence[FeatureSet] | Mapping[str, tuple], y=None) -> LogMERanking:
    """LogME of each feature set, best first: :class:`FeatureSet` objects (their labelled rows),
    or a mapping name -> X with the labels ``y`` shared by all of them."""
    if isinstance(feature_sets, Mapping):
        if y is None:
            raise ParameterError("rank_logme with a mapping of name -> X needs the labels y")
        items = [(name, np.asarray(X), np.asarray(y)) for name, X in feature_sets.items()]
    else:
        items = []
        for fs in feature_sets:
            labelled = fs.y >= 0
            items.append((fs.name, fs.X[labelled], fs.y[labelled]))
    if not items:
        raise ParameterError("rank_logme needs at least one feature set")
    start = time.perf_counter()
    scores = {name: logme(X, labels) for name, X, labels in items}
    seconds = time.perf_counter() - start
    return LogMERanking(dict(sorted(scores.items(), key=lambda kv: -kv[1])), seconds)


def best_cv_scores(comparison, metric: str) -> dict:
    """Feature set -> its best head's mean ``metric`` in a :class:`featx.classify.Comparison`
    (negated for log_loss, so higher is better as for LogME)."""
    from featx.classify._metrics import LOWER_IS_BETTER

    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    best: dict = {}
    for r in comparison.results:
        v = sign * r.metrics[metric]["mean"]
        if not math.isnan(v) and (r.feature_set not in best or v > best[r.feature_set]):
            best[r.feature_set] = v
    return best
