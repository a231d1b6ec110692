"""Every classify setting as a :class:`featx.common.Option`, in one light module (no scikit-learn,
no numpy): the CLI's start-up, the pipeline spec and ``featx --help`` read them from here. The
modules that use a setting import it from here (and keep re-exporting it under its old name).

Beside the plain values: the PCA setting of a head's pipeline (``PCA``: the spec's
``classify.pca`` and ``head_pca``, the CLI's ``--pca``), the training-set fractions of a learning
curve (``FRACTIONS``) and the list of heads of a study (``HEAD_LIST``)."""

from __future__ import annotations

import dataclasses

from featx.common import Option, OptionError
from featx.common.option_lists import ListOption
from featx.common.messages import suggest
from featx.common.options import got

from featx.classify.heads._registry import HEADS  # noqa: F401 (the registered head names, read live)
#: Metrics computed on every outer fold; higher is better except ``log_loss``.
METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")

# splits (used by _splits)
FOLDS = Option("folds", 5, "outer folds (capped at the smallest class count, with a warning)", kind=int, minimum=2)
REPEATS = Option("repeats", 1, "repeats of the outer K-fold (new shuffles from derived seeds)", kind=int, minimum=1)
SEED = Option("seed", 0, "seed of the splits and estimators: the same seed gives the same folds for every head, "
              "layer and model", kind=int, minimum=0)

# heads (used by _heads)
WHITEN = Option("whiten", False, "whiten the PCA components (ignored without PCA)", kind=bool)
PROBABILITY = Option("probability", False, "calibrate heads without predict_proba (svm, svm_rbf, ridge) so log loss "
                     "and probability-based ROC AUC are available (slower)", kind=bool)

# searches (used by _grids)
SEARCH = Option("search", "grid", "inner search: exhaustive 'grid', 'random' (n_iter candidates) or 'halving' (successive "
                "halving over the grid: all candidates on a few rows, the best third on three times as many, ...)",
                choices=("grid", "random", "halving"))

# metrics (used by _metrics)
METRIC = Option("metric", "balanced_accuracy", "metric that ranks configurations, picks the best and is plotted",
                choices=METRICS)
SEARCH_METRIC = Option("search_metric", None, "metric the inner hyperparameter search optimises (default: the "
                       "ranking metric)", choices=METRICS)

# audit (used by _audit and _audit_exact)
DEDUPE = Option("dedupe", "warn", "near-duplicate and exact-copy clusters in CV: 'warn' counts the clusters that fall on "
                "both sides of a fold, 'group' makes each cluster a CV group (merged with the data's groups)",
                choices=("warn", "group"))
CONFLICTS = Option("conflicts", "drop", "exact copies (same sha256) with different labels: 'drop' leaves them out of "
                   "training and evaluation (with a warning), 'keep' keeps them as labelled", choices=("drop", "keep"))

# cross-validation (used by _cv)
@dataclasses.dataclass(frozen=True)
class _JobsOption(Option):
    """An int >= 1, or -1 for all cores (0 is refused)."""

    def _check(self, value):
        value = super()._check(value)
        if value == 0:
            raise OptionError("expected an integer >= 1 or -1 (all cores), got 0")
        return value

    @property
    def doc(self) -> str:
        return "integer >= 1 or -1 (all cores)"


NESTED = Option("nested", False, "tune hyperparameters with an inner search in every outer training fold "
                "(the chosen parameters of each fold are reported)", kind=bool)
INNER_FOLDS = Option("inner_folds", 3, "inner folds of the nested search", kind=int, minimum=2)
N_ITER = Option("n_iter", 10, "candidates of a random search", kind=int, minimum=1)
JOBS = _JobsOption("jobs", -1, "cores used: outer folds run in parallel (joblib), one core each; -1 = all cores",
                   kind=int, minimum=-1)
#: The cross-validation scheme's settings (the spec's [cv] table).
CV_OPTIONS = (NESTED, FOLDS, INNER_FOLDS, REPEATS, SEED, SEARCH, N_ITER)


_EXPECTED = "expected 'off', 'search', an integer >= 1 or a float in (0, 1)"


@dataclasses.dataclass(frozen=True)
class PCAOption(Option):
    """``None``/'off' (no PCA), ``'search'`` (nested CV only: searched over ``PCA_GRID``), an
    integer >= 1 (components) or a float in (0, 1) (kept variance). ``check`` takes the value as
    a spec or Python gives it; the CLI flag reads text (``64``, ``0.95``, ``off``; ``0`` is off)."""

    def _check(self, v):
        if v is None or v is False:
            return None
        if isinstance(v, str):
            low = v.strip().lower()
            if low in ("off", "none", "search"):
                return None if low != "search" else "search"
            raise OptionError(f"{_EXPECTED}, got {v!r}{suggest(low, ['off', 'search'])}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise OptionError(f"{_EXPECTED}, {got(v)}")
        if isinstance(v, int) and v < 1:
            raise OptionError(f"an integer number of components must be >= 1, got {v} (use 'off' to disable PCA)")
        if isinstance(v, float) and not 0 < v < 1:
            raise OptionError(f"a variance fraction must be in (0, 1), got {v} (use an integer for components)")
        return v

    def _parse_cli(self, text: str):
        import argparse

        low = text.strip().lower()
        try:
            number = float(low) if low not in ("off", "none", "search", "") else None
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_EXPECTED}, got {text!r}{suggest(low, ['off', 'search'])}") from None
        if number is not None:  # a whole number >= 1 is a count of components; 0 is off
            low = None if number == 0 else int(number) if number >= 1 and number.is_integer() else number
        try:
            return self._check(low or None)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    @property
    def doc(self) -> str:
        return "'off', 'search', integer >= 1 (components) or float in (0, 1) (kept variance)"

    @staticmethod
    def describe(value) -> str:
        """The setting in words, as the report states it."""
        if value is None:
            return "off"
        if value == "search":
            return "searched over the default grid"
        return f"{value} components" if isinstance(value, int) else f"{value:g} of the variance kept"


PCA = PCAOption("pca", None, "PCA inside every head's pipeline (refit per training fold): 'off', 'search' (nested only: searched "
                "over featx.classify's PCA_GRID), components (int) or kept variance (float)", none_word="off")


@dataclasses.dataclass(frozen=True)
class FractionsOption(Option):
    """Increasing training-set fractions in (0, 1] without repeats; ``check`` returns a tuple
    of floats."""

    def _check(self, v):
        if not isinstance(v, (list, tuple)) or not v:
            raise OptionError(f"expected a non-empty array of numbers in (0, 1], {got(v)}")
        bad = [x for x in v if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x <= 1]
        if bad:
            raise OptionError(f"expected numbers in (0, 1], {got(bad[0])}")
        out = [float(x) for x in v]
        if out != sorted(set(out)):
            raise OptionError("expected increasing fractions without repeats, such as [0.1, 0.5, 1.0]")
        return tuple(out)

    @property
    def doc(self) -> str:
        return "array of increasing numbers in (0, 1]"


FRACTIONS = FractionsOption("fractions", (0.1, 0.25, 0.5, 0.75, 1.0), "Training-set fractions of the learning curve "
                            "(stratified subsets of each outer training fold)")


#: The heads a study cross-validates on every layer (``featx cv --heads``, the spec's ``classify.heads``).
HEAD_LIST = ListOption("heads", ("logreg", "svm", "rf", "xgb"), "Classical heads to cross-validate on every layer.",
                       choices=HEADS)
