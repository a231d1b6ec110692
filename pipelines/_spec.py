"""The study spec: TOML (or a dict) -> validated, frozen dataclasses.

A spec is data, never code: it is read with the standard library's ``tomllib`` and checked key
by key against :data:`SCHEMA` before anything is computed. Every problem (unknown keys with close
matches, wrong types, values outside their allowed set, missing paths, unknown models, heads and
layers) is collected and raised at once as :class:`~featx.pipelines.SpecError`.

Two levels of checks:

- :func:`load_spec` - cheap checks only: structure, types, allowed values, paths, image sources
  (listing files, no decoding), model names (``resolve_spec``), heads and grid keys.
- :func:`check_backbones` - builds each backbone once (weights loaded) and checks its layers with
  one dry run; :func:`featx.pipelines.run_job` does both before extracting anything.

Relative paths in a spec file are resolved against the folder of that file; in a dict, against
``base_dir`` (default: the current directory).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Callable

from featx.pipelines._errors import SpecError

DEFAULT_OUTPUT = "featx-out/study"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
ALL_HEADS_DEFAULT = ("logreg", "svm", "rf", "xgb")


# ---------------------------------------------------------------------------------------------
# The loaded spec: frozen dataclasses
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """One image source: a folder of class sub-folders or a CSV manifest ``path,label[,group]``."""

    name: str
    path: str  # absolute


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """One feature extractor: model + weights, the layers to tap and how to pool them."""

    name: str
    model: str
    weights: str = "default"
    layers: tuple[str, ...] = ("penultimate",)
    pool: str = "avg"


@dataclasses.dataclass(frozen=True)
class ExtractionSpec:
    """Options of :func:`featx.extract.extract` shared by every backbone."""

    batch_size: int = 64
    workers: int | None = None  # None: automatic
    device: str = "auto"
    precision: str = "auto"
    dtype: str = "float16"
    tta: str = "none"
    jpeg_draft: bool = True
    max_pixels: int | None = None  # None: featx.extract's default


@dataclasses.dataclass(frozen=True)
class ClassifySpec:
    """Heads, PCA and search-grid overrides (``grids[head][param] -> tuple of values``)."""

    heads: tuple[str, ...] = ALL_HEADS_DEFAULT
    pca: Any = None  # None (off), int components, float variance fraction or "search"
    whiten: bool = False
    probability: bool = False
    grids: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    jobs: int = -1
    head_pca: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def pca_for(self, head: str):
        """The PCA setting of ``head``: its ``head_pca`` entry, else ``pca``."""
        return self.head_pca.get(head, self.pca)

    def grid_overrides(self, head: str) -> dict | None:
        g = self.grids.get(head)
        return None if g is None else {k: list(v) for k, v in g.items()}


@dataclasses.dataclass(frozen=True)
class CVSpec:
    """Cross-validation scheme: stratified or grouped outer folds, optionally nested."""

    scheme: str = "stratified"
    nested: bool = True
    folds: int = 5
    inner_folds: int = 3
    repeats: int = 1
    seed: int = 0
    search: str = "grid"
    n_iter: int = 10


@dataclasses.dataclass(frozen=True)
class MetricsSpec:
    """``main`` ranks configurations and drives the plots; ``show`` are the table's columns."""

    main: str = "balanced_accuracy"
    show: tuple[str, ...] = ("balanced_accuracy", "accuracy", "f1_macro", "roc_auc")


@dataclasses.dataclass(frozen=True)
class ReportSpec:
    """What the report computes beyond the CV table."""

    learning_curve: bool = True
    fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 1.0)
    pca_plot: bool = True


@dataclasses.dataclass(frozen=True)
class Spec:
    """A validated study spec. ``raw`` is the spec as given (for the report); ``origin`` the file
    it came from (or ``"<dict>"``); ``notes`` are remarks shown in the report."""

    sources: tuple[SourceSpec, ...]
    backbones: tuple[BackboneSpec, ...]
    extraction: ExtractionSpec = ExtractionSpec()
    classify: ClassifySpec = ClassifySpec()
    cv: CVSpec = CVSpec()
    metrics: MetricsSpec = MetricsSpec()
    report: ReportSpec = ReportSpec()
    output: str = os.path.abspath(DEFAULT_OUTPUT)
    cache_dir: str | None = None
    title: str = "featx study"
    origin: str = "<dict>"
    raw: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}), compare=False)
    text: str = dataclasses.field(default="", compare=False)
    notes: tuple[str, ...] = ()

    @property
    def cache_folder(self) -> str:
        return self.cache_dir or os.path.join(self.output, "cache")

    def to_dict(self) -> dict:
        """The normalised spec (every default filled in, absolute paths) as plain data."""
        def conv(v):
            if dataclasses.is_dataclass(v):
                return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)
                        if f.name not in ("raw", "text", "origin")}
            if isinstance(v, Mapping):
                return {str(k): conv(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            return v

        d = conv(self)
        if d.get("cache_dir") is None:
            d.pop("cache_dir", None)
        if d["classify"]["pca"] is None:
            d["classify"]["pca"] = "off"
        d["classify"]["head_pca"] = {h: "off" if v is None else v for h, v in d["classify"]["head_pca"].items()}
        if d["extraction"]["workers"] is None:
            d["extraction"]["workers"] = "auto"
        if d["extraction"]["max_pixels"] is None:
            d["extraction"].pop("max_pixels")
        return d

    def replace(self, **changes) -> "Spec":
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# The schema: every key, its check, its default and one line of documentation
# ---------------------------------------------------------------------------------------------


class _Bad(Exception):
    """A value failed its check (message: 'expected ..., got ...')."""


def _type_name(v) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple)):
        return "an array"
    if isinstance(v, Mapping):
        return "a table"
    return type(v).__name__


def _got(v) -> str:
    try:
        shown = json.dumps(v, allow_nan=False)
    except (TypeError, ValueError):
        shown = repr(v)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"got {shown} ({_type_name(v)})"


def _str(choices=None, allow_empty=False):
    def check(v):
        if not isinstance(v, str):
            raise _Bad(f"expected a string{_choices(choices)}, {_got(v)}")
        if not allow_empty and not v.strip():
            raise _Bad(f"expected a non-empty string, {_got(v)}")
        if choices is not None and v not in choices:
            raise _Bad(f"{v!r} is not allowed{_suggest(v, choices)}; choose from: {', '.join(choices)}")
        return v
    check.doc = "string" + (f" ({' / '.join(choices)})" if choices else "")
    return check


def _choices(choices) -> str:
    return f" (one of {', '.join(choices)})" if choices else ""


def _int(minimum=None, maximum=None, allow=()):
    def check(v):
        if isinstance(v, str) and v in allow:
            return v
        if isinstance(v, bool) or not isinstance(v, int):
            extra = f" or {' / '.join(repr(a) for a in allow)}" if allow else ""
            raise _Bad(f"expected an integer{_range(minimum, maximum)}{extra}, {_got(v)}")
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise _Bad(f"expected an integer{_range(minimum, maximum)}, got {v}")
        return v
    check.doc = "integer" + _range(minimum, maximum) + (f" or {' / '.join(repr(a) for a in allow)}" if allow else "")
    return check


def _range(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    return ""


def _bool():
    def check(v):
        if not isinstance(v, bool):
            raise _Bad(f"expected true or false, {_got(v)}")
        return v
    check.doc = "boolean"
    return check


def _str_list(choices=None, min_len=1, unique=True):
    def check(v):
        if isinstance(v, str):
            raise _Bad(f"expected an array of strings such as [{v!r}], {_got(v)}")
        if not isinstance(v, (list, tuple)):
            raise _Bad(f"expected an array of strings, {_got(v)}")
        if len(v) < min_len:
            raise _Bad(f"expected at least {min_len} entr{'y' if min_len == 1 else 'ies'}, got an empty array")
        out = []
        for x in v:
            if not isinstance(x, str) or not x.strip():
                raise _Bad(f"expected an array of non-empty strings, but it holds {_got(x)}")
            if choices is not None and x not in choices:
                raise _Bad(f"{x!r} is not allowed{_suggest(x, choices)}; choose from: {', '.join(choices)}")
            out.append(x.strip())
        if unique:
            dup = sorted({x for x in out if out.count(x) > 1})
            if dup:
                raise _Bad(f"lists {dup[0]!r} twice; list every entry once")
        return tuple(out)
    check.doc = "array of strings" + (f" from {', '.join(choices)}" if choices else "")
    return check


def _fractions():
    def check(v):
        if not isinstance(v, (list, tuple)) or not v:
            raise _Bad(f"expected a non-empty array of numbers in (0, 1], {_got(v)}")
        out = []
        for x in v:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not (0 < x <= 1):
                raise _Bad(f"expected numbers in (0, 1], but it holds {_got(x)}")
            out.append(float(x))
        if out != sorted(set(out)):
            raise _Bad("expected increasing fractions without repeats, such as [0.1, 0.5, 1.0]")
        return tuple(out)
    check.doc = "array of increasing numbers in (0, 1]"
    return check


def _pca():
    def check(v):
        if v is None or v is False:
            return None
        if isinstance(v, str):
            low = v.strip().lower()
            if low in ("off", "none"):
                return None
            if low == "search":
                return "search"
            raise _Bad(f"expected 'off', 'search', an integer >= 1 or a float in (0, 1), got {v!r}{_suggest(low, ['off', 'search'])}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Bad(f"expected 'off', 'search', an integer >= 1 or a float in (0, 1), {_got(v)}")
        if isinstance(v, int):
            if v < 1:
                raise _Bad(f"an integer number of components must be >= 1, got {v} (use 'off' to disable PCA)")
            return v
        if not 0 < v < 1:
            raise _Bad(f"a variance fraction must be in (0, 1), got {v} (use an integer for components)")
        return v
    check.doc = "'off', 'search', integer >= 1 (components) or float in (0, 1) (kept variance)"
    return check


@dataclasses.dataclass(frozen=True)
class Key:
    """One spec key: how to check it, its default and what it means (docs/spec.md)."""

    check: Callable | None
    default: Any = None
    help: str = ""
    required: bool = False


def _section(name: str) -> Key:
    return Key(None, None, f"the [{name}] table")


def _metric_names() -> tuple[str, ...]:
    from featx.classify import METRICS

    return tuple(METRICS)


def _head_names() -> tuple[str, ...]:
    from featx.classify import HEADS

    return tuple(HEADS)


def schema() -> dict[str, dict[str, Key]]:
    """Every table of a spec and its keys (``""`` is the top level)."""
    from featx.extract import DEFAULT_MODEL, POOLS

    metrics = _metric_names()
    return {
        "": {
            "title": Key(_str(), "featx study", "Title shown at the top of the report."),
            "notes": Key(_str_list(min_len=0, unique=False), (), "Remarks shown at the top of the report (e.g. how the data was subset)."),
            "output": Key(_str(), DEFAULT_OUTPUT, "Output folder: report.html, results.json, cache/ and cv-cache/ go here."),
            "cache_dir": Key(_str(), None, "Folder of the extraction caches (default <output>/cache); share one between studies to reuse features."),
            "sources": Key(None, None, "Image sources, one [[sources]] table each (at least one).", required=True),
            "backbones": Key(None, None, f"Feature extractors, one [[backbones]] table each (default: one {DEFAULT_MODEL} with its penultimate layer)."),
            "extraction": _section("extraction"),
            "classify": _section("classify"),
            "cv": _section("cv"),
            "metrics": _section("metrics"),
            "report": _section("report"),
        },
        "sources": {
            "name": Key(_str(), None, "Short name used in tables and cache file names (default: the folder or file name)."),
            "path": Key(_str(), None, "A folder with one sub-folder per class, or a CSV manifest path,label[,group] (paths relative to the CSV).", required=True),
        },
        "backbones": {
            "name": Key(_str(), None, "Short name used in tables and cache file names (default: the model name)."),
            "model": Key(_str(), DEFAULT_MODEL, "A name from 'featx models', torchvision:NAME, timm:NAME or the path of a featx checkpoint."),
            "weights": Key(_str(), "default", "'default' (pretrained), 'none' (seeded random init), a torchvision weights name or a state_dict file."),
            "layers": Key(_str_list(), ("penultimate",), "Layers to tap (module paths such as 'blocks.4'; 'penultimate' = the pooled features fed to the classifier); see 'featx layers MODEL'."),
            "pool": Key(_str(tuple(POOLS)), "avg", "Pooling of spatial maps."),
        },
        "extraction": {
            "batch_size": Key(_int(1), 64, "Images per forward pass (halved on CUDA out-of-memory)."),
            "workers": Key(_int(0, allow=("auto",)), "auto", "DataLoader worker processes ('auto' or an integer >= 0)."),
            "device": Key(_str(), "auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps."),
            "precision": Key(_str(("auto", "fp32", "bf16", "fp16")), "auto", "Autocast precision (auto: bf16/fp16 on GPU, fp32 on CPU)."),
            "dtype": Key(_str(("float16", "float32")), "float16", "Stored feature dtype."),
            "tta": Key(_str(("none", "hflip")), "none", "Test-time augmentation: 'hflip' stores the mean of the image's and its mirror's features."),
            "jpeg_draft": Key(_bool(), True, "Let Pillow decode large JPEGs at reduced size (faster, same result after resizing)."),
            "max_pixels": Key(_int(1), None, "Refuse images with more pixels (default: featx.extract's limit, about 89 million)."),
        },
        "classify": {
            "heads": Key(_str_list(_head_names()), ALL_HEADS_DEFAULT, "Classical heads to cross-validate on every layer."),
            "pca": Key(_pca(), None, "PCA inside every head's pipeline (refit per training fold): 'off', 'search' (nested only: searched over featx.classify's PCA_GRID), components (int) or kept variance (float)."),
            "whiten": Key(_bool(), False, "PCA whitening."),
            "probability": Key(_bool(), False, "Calibrate heads without predict_proba (svm, ridge) so log loss and probability-based ROC AUC are available (slower)."),
            "jobs": Key(_int(-1, allow=()), -1, "Parallel outer folds (joblib); -1 = all cores."),
            "head_pca": Key(None, {}, "PCA per head, overriding classify.pca for the heads named, e.g. [classify.head_pca] xgb = 32 (trees on wide features) while linear heads keep 'off'."),
            "grids": Key(None, {}, "Search-grid overrides per head, e.g. [classify.grids.logreg] clf__C = [0.1, 1.0] (nested CV only)."),
        },
        "cv": {
            "scheme": Key(_str(("stratified", "grouped")), "stratified", "Outer folds: 'stratified' (StratifiedKFold) or 'grouped' (StratifiedGroupKFold on the manifest's group column)."),
            "nested": Key(_bool(), True, "Tune hyperparameters with an inner search in every outer training fold."),
            "folds": Key(_int(2), 5, "Outer folds (capped at the smallest class count, with a warning)."),
            "inner_folds": Key(_int(2), 3, "Inner folds of the nested search."),
            "repeats": Key(_int(1), 1, "Repeats of the outer K-fold (derived seeds)."),
            "seed": Key(_int(0), 0, "Seed of the splits and estimators: the same seed gives the same folds for every head, layer and model."),
            "search": Key(_str(("grid", "random")), "grid", "Inner search: exhaustive 'grid' or 'random' (n_iter candidates)."),
            "n_iter": Key(_int(1), 10, "Candidates of a random search."),
        },
        "metrics": {
            "main": Key(_str(metrics), "balanced_accuracy", "Metric that ranks configurations, picks the best and is plotted."),
            "show": Key(_str_list(metrics), ("balanced_accuracy", "accuracy", "f1_macro", "roc_auc"), "Metrics shown in the report table (mean +/- std and 95% interval)."),
        },
        "report": {
            "learning_curve": Key(_bool(), True, "Learning curve of each source's best configuration (its most often chosen hyperparameters) on the same outer folds."),
            "fractions": Key(_fractions(), (0.1, 0.25, 0.5, 0.75, 1.0), "Training-set fractions of the learning curve (stratified subsets of each outer training fold)."),
            "pca_plot": Key(_bool(), True, "Plot the PCA explained variance of every layer."),
        },
    }


def _suggest(name, choices) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=3, cutoff=0.6)
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


class _Problems:
    def __init__(self):
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)


def read_spec_text(path: str) -> tuple[dict, str]:
    """Parse a TOML file; a syntax error is a one-problem :class:`SpecError`."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SpecError([f"spec file {path!r} does not exist; write one with 'featx run --print-spec > study.toml'"])
    if os.path.isdir(path):
        raise SpecError([f"spec {path!r} is a folder; pass a TOML file (see 'featx run --print-spec')"])
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        text = data.decode("utf-8")
        return tomllib.loads(text), text
    except UnicodeDecodeError as exc:
        raise SpecError([f"{path}: not UTF-8 text (byte {exc.start}); save the spec as UTF-8"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([f"{path}: invalid TOML ({exc}); see 'featx run --print-spec' for the syntax"]) from None


def load_spec(spec, *, base_dir: str | None = None, check_sources: bool = True) -> Spec:
    """A :class:`Spec` from a TOML path, a dict or a Spec (returned as is).

    Runs every cheap check and raises :class:`SpecError` listing all problems. ``check_sources``
    lists each source's images (no decoding) to check that it exists, is labelled and fits the
    CV scheme.
    """
    if isinstance(spec, Spec):
        return spec
    text = ""
    if isinstance(spec, (str, os.PathLike)):
        origin = os.path.abspath(os.fspath(spec))
        raw, text = read_spec_text(origin)
        base = os.path.dirname(origin)
    elif isinstance(spec, Mapping):
        origin = "<dict>"
        raw = _plain(spec)
        base = os.path.abspath(base_dir or os.getcwd())
    else:
        raise SpecError([f"a spec must be a TOML file path, a dict or a Spec; got {type(spec).__name__}"])
    problems = _Problems()
    parsed = _parse(raw, base, problems)
    if check_sources and parsed is not None:
        _check_sources(parsed, problems)
    if problems.items:
        raise SpecError(problems.items)
    return dataclasses.replace(parsed, origin=origin, raw=MappingProxyType(raw), text=text)


def _plain(value):
    """A dict given from Python -> plain dicts/lists (tuples allowed), checked later."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _check_table(table, keys: dict[str, Key], where: str, problems: _Problems) -> dict:
    """Check the keys of one table; returns the checked values (defaults filled in)."""
    out = {}
    label = f"[{where}]" if where else "the top level"
    if not isinstance(table, Mapping):
        problems.add(where, f"expected a table, {_got(table)}")
        return {k: key.default for k, key in keys.items() if key.check is not None}
    for name in table:
        if name not in keys:
            hint = _suggest(name, keys)
            problems.add(_join(where, str(name)), f"unknown key{hint}{' ' if hint else '; '}"
                         f"keys of {label}: {', '.join(keys)}")
    for name, key in keys.items():
        if key.check is None:
            continue
        if name in table:
            try:
                out[name] = key.check(table[name])
            except _Bad as exc:
                problems.add(_join(where, name), str(exc))
                out[name] = key.default
        else:
            if key.required:
                problems.add(_join(where, name), "missing (required)")
            out[name] = key.default
    return out


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _abspath(path: str, base: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def _default_name(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    base = os.path.splitext(base)[0] if os.path.isfile(path) or base.lower().endswith((".csv", ".txt")) else base
    return _safe_name(base) or "source"


def _safe_name(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._-")
    return text[:64]


def _parse(raw: dict, base: str, problems: _Problems) -> Spec | None:
    sch = schema()
    if not isinstance(raw, Mapping):
        problems.add("", f"the spec must be a table, {_got(raw)}")
        return None
    top = _check_table(raw, sch[""], "", problems)

    sources = _parse_array(raw, "sources", sch["sources"], problems, required=True)
    src_specs = []
    for i, s in sources:
        path = s.get("path")
        if not path:
            continue
        path = _abspath(path, base)
        name = s.get("name") or _default_name(path)
        src_specs.append((i, SourceSpec(name=name, path=path)))
    _check_names([(i, s.name) for i, s in src_specs], "sources", problems)

    backbones = _parse_array(raw, "backbones", sch["backbones"], problems, required=False)
    if "backbones" not in raw:
        backbones = [(0, _check_table({}, sch["backbones"], "backbones[0]", problems))]
    bb_specs = []
    for i, b in backbones:
        model = b["model"]
        weights = b["weights"]
        if weights not in ("default", "none") and (os.sep in weights or weights.endswith((".pt", ".pth", ".bin"))):
            weights = _abspath(weights, base)
            if not os.path.isfile(weights):
                problems.add(f"backbones[{i}].weights", f"file {weights!r} does not exist; give an existing state_dict file, 'default' or 'none'")
        if model.endswith((".pt", ".pth", ".ckpt")) or os.sep in model:
            model = _abspath(model, base)
        name = b.get("name") or _safe_name(os.path.splitext(os.path.basename(model))[0] if os.sep in model else model.replace(":", "-"))
        layers = tuple(dict.fromkeys(b["layers"]))
        bb_specs.append((i, BackboneSpec(name=name, model=model, weights=weights, layers=layers, pool=b["pool"])))
    _check_names([(i, b.name) for i, b in bb_specs], "backbones", problems)
    _check_models(bb_specs, problems)

    ext = _check_table(raw.get("extraction", {}), sch["extraction"], "extraction", problems)
    ext["workers"] = None if ext["workers"] == "auto" else ext["workers"]
    extraction = ExtractionSpec(**ext)

    cls_raw = raw.get("classify", {})
    cls = _check_table(cls_raw, sch["classify"], "classify", problems)
    cv = CVSpec(**_check_table(raw.get("cv", {}), sch["cv"], "cv", problems))
    if cls["jobs"] == 0:
        problems.add("classify.jobs", "expected an integer >= 1 or -1 (all cores), got 0")
        cls["jobs"] = 1
    if cls["pca"] == "search" and not cv.nested:
        problems.add("classify.pca", "'search' needs nested cross-validation (cv.nested = true); give a fixed value such as 0.95")
    head_pca = _parse_head_pca(cls_raw.get("head_pca", {}) if isinstance(cls_raw, Mapping) else {}, cls, cv, problems)
    grids = _parse_grids(cls_raw.get("grids", {}) if isinstance(cls_raw, Mapping) else {}, cls, head_pca, cv, problems)
    classify = ClassifySpec(heads=cls["heads"], pca=cls["pca"], whiten=cls["whiten"], probability=cls["probability"],
                            grids=grids, jobs=cls["jobs"], head_pca=head_pca)

    met = MetricsSpec(**_check_table(raw.get("metrics", {}), sch["metrics"], "metrics", problems))
    rep = ReportSpec(**_check_table(raw.get("report", {}), sch["report"], "report", problems))

    output = _abspath(top["output"], base)
    if os.path.exists(output) and not os.path.isdir(output):
        problems.add("output", f"{output!r} exists and is not a folder; choose another output folder")
    cache_dir = _abspath(top["cache_dir"], base) if top["cache_dir"] else None
    if cache_dir and os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
        problems.add("cache_dir", f"{cache_dir!r} exists and is not a folder; choose another cache folder")
    return Spec(
        sources=tuple(s for _, s in src_specs),
        backbones=tuple(b for _, b in bb_specs),
        extraction=extraction,
        classify=classify,
        cv=cv,
        metrics=met,
        report=rep,
        output=output,
        cache_dir=cache_dir,
        title=top["title"],
        notes=tuple(top["notes"]),
    )


def _parse_array(raw, name, keys, problems, *, required) -> list[tuple[int, dict]]:
    value = raw.get(name) if isinstance(raw, Mapping) else None
    if value is None:
        if required:
            problems.add(name, f"missing (required); add at least one [[{name}]] table")
        return []
    if isinstance(value, Mapping):
        value = [value]  # a single [name] table is accepted as a one-entry array
    if not isinstance(value, list):
        problems.add(name, f"expected an array of tables ([[{name}]]), {_got(value)}")
        return []
    if not value:
        problems.add(name, f"is empty; add at least one [[{name}]] table")
    return [(i, _check_table(entry, keys, f"{name}[{i}]", problems)) for i, entry in enumerate(value)]


def _check_names(named: list[tuple[int, str]], array: str, problems: _Problems) -> None:
    seen: dict[str, int] = {}
    for i, name in named:
        if not NAME_RE.match(name):
            problems.add(f"{array}[{i}].name", f"{name!r} is not a usable name; use letters, digits and . _ + - (at most 64)")
        if name in seen:
            problems.add(f"{array}[{i}].name", f"{name!r} is already the name of {array}[{seen[name]}]; give every entry a distinct name")
        seen.setdefault(name, i)


def _check_models(bb_specs, problems: _Problems) -> None:
    from featx.extract import ExtractError, resolve_spec

    for i, b in bb_specs:
        try:
            spec = resolve_spec(b.model)
        except ExtractError as exc:
            problems.add(f"backbones[{i}].model", str(exc))
            continue
        if spec.source == "checkpoint" and not os.path.isfile(b.model):
            problems.add(f"backbones[{i}].model", f"checkpoint file {b.model!r} does not exist; give a model name from 'featx models' or an existing featx checkpoint")


def _parse_head_pca(raw, cls: dict, cv: CVSpec, problems: _Problems) -> Mapping:
    if not isinstance(raw, Mapping):
        problems.add("classify.head_pca", f"expected a table of head = pca setting, {_got(raw)}")
        return MappingProxyType({})
    out = {}
    check = _pca()
    for head, value in raw.items():
        where = f"classify.head_pca.{head}"
        if head not in cls["heads"]:
            choices = cls["heads"] if head in _head_names() else _head_names()
            problems.add(where, f"head {head!r} is not in classify.heads{_suggest(head, choices)} (heads: {', '.join(cls['heads'])})")
            continue
        try:
            out[head] = check(value)
        except _Bad as exc:
            problems.add(where, str(exc))
            continue
        if out[head] == "search" and not cv.nested:
            problems.add(where, "'search' needs nested cross-validation (cv.nested = true); give a fixed value such as 0.95")
    return MappingProxyType(out)


def _parse_grids(grids_raw, cls: dict, head_pca: Mapping, cv: CVSpec, problems: _Problems) -> Mapping:
    from featx.classify import ClassifyError, resolve_grid

    if not isinstance(grids_raw, Mapping):
        problems.add("classify.grids", f"expected a table of head -> table of parameter = [values], {_got(grids_raw)}")
        return MappingProxyType({})
    out = {}
    heads = cls["heads"]
    for head, grid in grids_raw.items():
        where = f"classify.grids.{head}"
        if head not in heads:
            choices = heads if head in _head_names() else _head_names()
            problems.add(where, f"head {head!r} is not in classify.heads{_suggest(head, choices)} (heads: {', '.join(heads)})")
            continue
        if not isinstance(grid, Mapping):
            problems.add(where, f"expected a table of parameter = [values], {_got(grid)}")
            continue
        if not cv.nested:
            problems.add(where, "grids are only searched by nested cross-validation; set cv.nested = true or remove the grid")
            continue
        clean = {}
        for key, values in grid.items():
            vals = list(values) if isinstance(values, (list, tuple)) else [values]
            if not vals:
                problems.add(f"{where}.{key}", "empty value list; give at least one value")
                continue
            bad = [v for v in vals if isinstance(v, (Mapping, list, tuple))]
            if bad:
                problems.add(f"{where}.{key}", f"values must be numbers, strings or booleans, {_got(bad[0])}")
                continue
            clean[key] = tuple(None if isinstance(v, str) and v.lower() == "none" else v for v in vals)
        try:
            resolve_grid(head, {k: list(v) for k, v in clean.items()}, pca=head_pca.get(head, cls["pca"]),
                         probability=cls["probability"])
        except ClassifyError as exc:
            problems.add(where, str(exc))
            continue
        out[head] = MappingProxyType(clean)
    return MappingProxyType(out)


def _check_sources(spec: Spec, problems: _Problems) -> None:
    """List each source (no decoding): exists, labelled, >= 2 classes, groups for 'grouped'."""
    from featx.extract import ExtractError, open_source

    for i, src in enumerate(spec.sources):
        where = f"sources[{i}].path"
        if not os.path.exists(src.path):
            problems.add(where, f"{src.path!r} does not exist (relative paths are resolved against the spec file's folder)")
            continue
        try:
            table = open_source(src.path)
        except ExtractError as exc:
            problems.add(where, str(exc))
            continue
        if not table.class_names:
            problems.add(where, f"{src.path!r} has no labels (no class sub-folders or label column); a study needs labelled images")
            continue
        if len(table.class_names) < 2:
            problems.add(where, f"{src.path!r} has one class only ({table.class_names[0]!r}); a classifier needs at least 2")
        if spec.cv.scheme == "grouped" and not any(table.groups):
            problems.add("cv.scheme", f"'grouped' needs groups but source {src.name!r} has none (a folder source has no groups; "
                                      "use a CSV manifest with a group column, or scheme = 'stratified')")


# ---------------------------------------------------------------------------------------------
# Deep checks: build each backbone once and check its layers
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ResolvedBackbone:
    """A backbone built for the job: the module (reused for extraction), its resolved layers in
    network order, their dims, and each requested name's resolution."""

    spec: BackboneSpec
    backbone: Any
    layers: list[str]
    dims: dict[str, int]
    aliases: dict[str, str]  # resolved name -> name as written (e.g. 'global_pool' -> 'penultimate')
    order: dict[str, int]  # resolved name -> position in the network's module order
    provenance: dict = dataclasses.field(default_factory=dict)
    preprocessing: str = ""


def check_backbones(spec: Spec) -> dict[str, ResolvedBackbone]:
    """Build every backbone (weights loaded) and check its layers with one dry run each.

    All problems are collected and raised at once as :class:`SpecError`.
    """
    import torch

    from featx.extract import PENULTIMATE, ExtractError, WeightsError, build_backbone, penultimate_layer, resolve_layers

    problems = _Problems()
    out: dict[str, ResolvedBackbone] = {}
    for i, b in enumerate(spec.backbones):
        try:
            backbone = build_backbone(b.model, b.weights)
        except WeightsError as exc:
            problems.add(f"backbones[{i}].weights", str(exc))
            continue
        except ExtractError as exc:
            problems.add(f"backbones[{i}].model", str(exc))
            continue
        modules = [n for n, _ in backbone.module.named_modules() if n]
        position = {n: k for k, n in enumerate(modules)}
        good = []
        for layer in b.layers:
            base = layer[:-3] if layer.endswith(":in") else layer
            if layer != PENULTIMATE and base not in position:
                hint = _suggest(base, modules + [PENULTIMATE])
                problems.add(f"backbones[{i}].layers", f"layer {layer!r} is not present in {b.model}{hint}{' ' if hint else '; '}"
                             f"list the layers with 'featx layers {b.model}'")
                continue
            good.append(layer)
        if not good:
            continue
        try:
            aliases = {}
            if PENULTIMATE in good:
                size = backbone.preprocessing.crop_size
                penultimate = penultimate_layer(backbone.module, torch.zeros(1, 3, size, size))
            for layer in good:
                aliases.setdefault(penultimate if layer == PENULTIMATE else layer, layer)
            resolved, dims = resolve_layers(backbone, list(aliases), b.pool)  # one dry run
        except ExtractError as exc:
            problems.add(f"backbones[{i}].layers", str(exc))
            continue

        def pos(name):
            return position.get(name[:-3] if name.endswith(":in") else name, len(position))

        ordered = sorted(resolved, key=pos)
        out[b.name] = ResolvedBackbone(b, backbone, ordered, dims, aliases, {n: pos(n) for n in ordered},
                                       backbone.provenance(), backbone.preprocessing.describe())
    if problems.items:
        raise SpecError(problems.items)
    return out


# ---------------------------------------------------------------------------------------------
# A tiny TOML writer (for showing a dict spec as the TOML a user can save and rerun)
# ---------------------------------------------------------------------------------------------


def to_toml(data: Mapping) -> str:
    """Serialise a spec-shaped dict (strings, numbers, booleans, arrays, tables, arrays of
    tables) as TOML that ``tomllib`` reads back to the same data."""
    lines: list[str] = []
    _emit_table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _toml_key(k: str) -> str:
    return k if re.match(r"^[A-Za-z0-9_-]+$", k) else json.dumps(k)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if v is None:
        raise ValueError("TOML has no null; drop the key instead")
    return json.dumps(str(v))


def _is_table_array(v) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _emit_table(data: Mapping, path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if v is not None and not isinstance(v, Mapping) and not _is_table_array(v)}
    for k, v in scalars.items():
        lines.append(f"{_toml_key(str(k))} = {_toml_value(v)}")
    for k, v in data.items():
        if isinstance(v, Mapping):
            sub = path + [str(k)]
            has_scalars = any(x is not None and not isinstance(x, Mapping) and not _is_table_array(x) for x in v.values())
            if has_scalars or not v:
                lines.append("")
                lines.append("[" + ".".join(_toml_key(p) for p in sub) + "]")
            _emit_table(v, sub, lines)
        elif _is_table_array(v):
            for entry in v:
                lines.append("")
                lines.append("[[" + ".".join(_toml_key(p) for p in path + [str(k)]) + "]]")
                _emit_table(entry, path + [str(k)], lines)
