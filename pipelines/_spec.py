"""The study spec: TOML (or a dict) -> validated, frozen dataclasses.

A spec is data, never code: it is read with the standard library's ``tomllib`` and checked key
by key against :data:`SCHEMA` before anything is computed. Every problem (unknown keys with close
matches, wrong types, values outside their allowed set, missing paths, unknown models, heads and
layers) is collected and raised at once as :class:`~featx.pipelines.SpecError`.

The schema is made of the settings' own definitions: ``[extraction]`` is featx.extract's
``EXTRACTION_OPTIONS``, ``[cv]`` featx.classify's ``CV_OPTIONS``, the classify and metrics settings
featx.classify's Options; the spec's own keys are defined once below. The frozen section classes
(:class:`ExtractionSpec`, :class:`CVSpec`, ...) are generated from the same tables, so a new
setting is one Option in the package that reads it.

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
import os
import tomllib
from collections.abc import Mapping
from types import MappingProxyType

from featx.classify import CONFLICTS, CV_OPTIONS, DEDUPE, FRACTIONS, HEAD_LIST, JOBS, METRIC, METRICS, PCA, PROBABILITY, SEARCH_METRIC, WHITEN
from featx.classify.heads import check_head_tables
from featx.classify.transfer import DATA_EFFICIENCY, HOLDOUT_FOLDS
from featx.common import Option
from featx.common.cluster import CLUSTER, TLS_CA_FILE, TLS_CERT, TLS_KEY
from featx.common.option_lists import ListOption
from featx.common.options import got
from featx.common.settings import (Problems, Table, check_array, check_names, check_table, plain_data, safe_name,
                                   settings_class, settings_data)
from featx.common.settings import to_toml  # noqa: F401 (the report and tests read it here)
from featx.extract import DEFAULT_MODEL, EXTRACTION_OPTIONS, POOL, ResolvedBackbone
from featx.extract.finetune import FINETUNE_OPTIONS, SCRATCH, STRATEGIES
from featx.pipelines._errors import SpecError

DEFAULT_OUTPUT = "featx-out/study"


# ---------------------------------------------------------------------------------------------
# The schema: every key once, with its check, default and one line of help (docs/spec.md)
# ---------------------------------------------------------------------------------------------


def _table(*entries) -> Mapping:
    return MappingProxyType({e.name: e for e in entries})


SCHEMA: Mapping[str, Mapping] = MappingProxyType({
    "": _table(
        Option("title", "featx study", "Title shown at the top of the report."),
        ListOption("notes", (), "Remarks shown at the top of the report (e.g. how the data was subset).", min_len=0, unique=False),
        Option("output", DEFAULT_OUTPUT, "Output folder: report.html, results.json, cache/ and cv-cache/ go here."),
        Option("cache_dir", None, "Folder of the extraction caches (default <output>/cache); share one between studies to reuse features."),
        dataclasses.replace(CLUSTER, help="Where extraction and cross-validation run: unset = this machine; 'local:N' = N local "
                                          "Dask worker processes; or a Dask scheduler address (tcp://host:8786); the same "
                                          "results either way (see README 'On a cluster'; 'featx run --cluster' overrides it)."),
        dataclasses.replace(TLS_CA_FILE, help="A tls:// scheduler (cluster = \"tls://host:8786\"): the CA certificate (PEM) that "
                                              "signed the scheduler's and workers' certificates (relative to the spec file; "
                                              "'featx run --tls-ca-file' overrides it)."),
        dataclasses.replace(TLS_CERT, help="A tls:// scheduler: this client's certificate (PEM; may hold the key too), signed "
                                           "by that CA ('--tls-cert' overrides it)."),
        dataclasses.replace(TLS_KEY, help="A tls:// scheduler: this client's private key (PEM), when tls_cert does not hold it "
                                          "('--tls-key' overrides it)."),
        Table("sources", None, "Image sources, one [[sources]] table each (at least one).", type_doc="array of tables"),
        Table("backbones", None, f"Feature extractors, one [[backbones]] table each (default: one {DEFAULT_MODEL} with its "
                                 "penultimate layer).", type_doc="array of tables"),
        Table("extraction", None, "Extraction settings shared by every backbone (below)."),
        Table("classify", None, "Heads, PCA and grids (below)."),
        Table("cv", None, "Cross-validation scheme (below)."),
        Table("metrics", None, "Ranking metric and table columns (below)."),
        Table("report", None, "Extra report computations (below)."),
        Table("finetune", None, "The transfer study: frozen features vs fine-tuning vs scratch on the same held-out rows "
                                "(below); absent: no study."),
    ),
    "sources": _table(
        Option("name", None, "Short name used in tables and cache file names (default: the folder or file name)."),
        Option("path", None, "A folder with one sub-folder per class, or a CSV manifest path,label[,group] (paths relative to the CSV)."),
    ),
    "backbones": _table(
        Option("name", None, "Short name used in tables and cache file names (default: the model name)."),
        Option("model", DEFAULT_MODEL, "A name from 'featx models', torchvision:NAME, timm:NAME or the path of a featx checkpoint."),
        Option("weights", "default", "'default' (pretrained), 'none' (seeded random init), a torchvision weights name or a state_dict file."),
        ListOption("layers", ("penultimate",), "Layers to tap (module paths such as 'blocks.4'; 'penultimate' = the pooled "
                                               "features fed to the classifier); see 'featx layers MODEL'."),
        POOL,
    ),
    "extraction": _table(*EXTRACTION_OPTIONS),
    "classify": _table(
        HEAD_LIST,
        PCA, WHITEN, PROBABILITY, JOBS,
        Table("head_pca", {}, "PCA per head, overriding classify.pca for the heads named, e.g. [classify.head_pca] xgb = 32 "
                              "(trees on wide features) while linear heads keep 'off'."),
        Table("grids", {}, "Search-grid overrides per head, e.g. [classify.grids.logreg] clf__C = [0.1, 1.0] (nested CV only)."),
    ),
    "cv": _table(
        Option("scheme", "stratified", "Outer folds: 'stratified' (StratifiedKFold) or 'grouped' (StratifiedGroupKFold on the "
                                       "manifest's group column).", choices=("stratified", "grouped")),
        # a study tunes hyperparameters by default; featx.classify's functions default to plain CV
        *(dataclasses.replace(o, default=True) if o.name == "nested" else o for o in CV_OPTIONS),
        SEARCH_METRIC,
        DEDUPE,
        CONFLICTS,
    ),
    "metrics": _table(
        dataclasses.replace(METRIC, name="main", help="Metric that ranks configurations, picks the best, is plotted and (unless "
                                                      "cv.search_metric is set) scores the inner search."),
        ListOption("show", ("balanced_accuracy", "accuracy", "f1_macro", "roc_auc"), "Metrics shown in the report table (mean +/- std "
                                                                                 "and 95% interval).", choices=tuple(METRICS)),
    ),
    "report": _table(
        Option("learning_curve", True, "Learning curve of each source's best configuration (its most often chosen hyperparameters) "
                                       "on the same outer folds.", kind=bool),
        FRACTIONS,
        Option("pca_plot", True, "Plot the PCA explained variance of every layer.", kind=bool),
    ),
    "finetune": _table(
        Option("backbone", None, "The [[backbones]] entry (its name) to fine-tune and compare; default: the first."),
        Option("layer", "penultimate", "The layer whose features the classical heads use, frozen and fine-tuned (one of "
                                       "the backbone's layers)."),
        STRATEGIES, SCRATCH, DATA_EFFICIENCY, HOLDOUT_FOLDS,
        *(o for o in FINETUNE_OPTIONS if o.name != "strategy"),
    ),
})
REQUIRED = frozenset({"sources", "sources.path"})


# ---------------------------------------------------------------------------------------------
# The loaded spec: frozen dataclasses generated from the schema
# ---------------------------------------------------------------------------------------------


class _ClassifyMethods:
    def pca_for(self, head: str):
        """The PCA setting of ``head``: its ``head_pca`` entry, else ``pca``."""
        return self.head_pca.get(head, self.pca)

    def grid_overrides(self, head: str) -> dict | None:
        g = self.grids.get(head)
        return None if g is None else {k: list(v) for k, v in g.items()}


def _section(cls_name: str, table: str, doc: str, base: type | None = None) -> type:
    return settings_class(cls_name, SCHEMA[table].values(), doc, base=base, module=__name__)


SourceSpec = _section("SourceSpec", "sources", "One image source: a folder of class sub-folders or a CSV manifest "
                                               "``path,label[,group]`` (absolute path).")
BackboneSpec = _section("BackboneSpec", "backbones", "One feature extractor: model + weights, the layers to tap and "
                                                     "how to pool them.")
ExtractionSpec = _section("ExtractionSpec", "extraction", "Settings of :func:`featx.extract.extract` shared by every "
                                                          "backbone (``None``: featx.extract's default).")
ClassifySpec = _section("ClassifySpec", "classify", "Heads, PCA and search-grid overrides (``grids[head][param] -> "
                                                    "tuple of values``).", _ClassifyMethods)
CVSpec = _section("CVSpec", "cv", "Cross-validation scheme: stratified or grouped outer folds, optionally nested.")
MetricsSpec = _section("MetricsSpec", "metrics", "``main`` ranks configurations and drives the plots; ``show`` are "
                                                 "the table's columns.")
ReportSpec = _section("ReportSpec", "report", "What the report computes beyond the CV table.")
FinetuneSpec = _section("FinetuneSpec", "finetune", "The transfer study: strategies, scratch, data efficiency, held-out "
                                                   "folds and every fine-tuning setting (featx finetune's defaults).")


@dataclasses.dataclass(frozen=True)
class Spec:
    """A validated study spec. ``raw`` is the spec as given (for the report); ``origin`` the file
    it came from (or ``"<dict>"``); ``notes`` are remarks shown in the report."""

    sources: tuple
    backbones: tuple
    extraction: ExtractionSpec = ExtractionSpec()
    classify: ClassifySpec = ClassifySpec()
    cv: CVSpec = CVSpec()
    metrics: MetricsSpec = MetricsSpec()
    report: ReportSpec = ReportSpec()
    finetune: FinetuneSpec | None = None
    output: str = os.path.abspath(DEFAULT_OUTPUT)
    cache_dir: str | None = None
    cluster: str | None = None
    tls_ca_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    title: str = SCHEMA[""]["title"].default
    origin: str = "<dict>"
    raw: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}), compare=False)
    text: str = dataclasses.field(default="", compare=False)
    notes: tuple[str, ...] = ()

    @property
    def cache_folder(self) -> str:
        return self.cache_dir or os.path.join(self.output, "cache")

    @property
    def search_metric(self) -> str:
        """The metric the inner search scores by: ``cv.search_metric``, else ``metrics.main``."""
        return self.cv.search_metric or self.metrics.main

    def to_dict(self) -> dict:
        """The normalised spec (every default filled in, absolute paths) as plain TOML-able data."""
        d = settings_data(self, SCHEMA[""])
        c = d["classify"]
        c["head_pca"] = {h: "off" if v is None else v for h, v in c["head_pca"].items()}
        c["grids"] = {h: {k: ["none" if x is None else x for x in vals] for k, vals in g.items()}
                      for h, g in c["grids"].items()}
        return d

    def replace(self, **changes) -> "Spec":
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


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
        raw = plain_data(spec)
        base = os.path.abspath(base_dir or os.getcwd())
    else:
        raise SpecError([f"a spec must be a TOML file path, a dict or a Spec; got {type(spec).__name__}"])
    problems = Problems()
    parsed = _parse(raw, base, problems)
    if check_sources and parsed is not None:
        _check_sources(parsed, problems)
    if problems.items:
        raise SpecError(problems.items)
    return dataclasses.replace(parsed, origin=origin, raw=MappingProxyType(raw), text=text)


def _check_table(table, name: str, where: str, problems: Problems) -> dict:
    """Check the keys of one table against ``SCHEMA[name]``; returns the checked values
    (defaults filled in) of the keys that are checked here (not sub-tables)."""
    values, found = check_table(table, SCHEMA[name], where, required=_required(name))
    problems.items += found
    return values


def _required(table: str) -> set:
    return {r.rpartition(".")[2] for r in REQUIRED if r.rpartition(".")[0] == table}


def _abspath(path: str, base: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def _default_name(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    base = os.path.splitext(base)[0] if os.path.isfile(path) or base.lower().endswith((".csv", ".txt")) else base
    return safe_name(base) or "source"


def _parse(raw: dict, base: str, problems: Problems) -> Spec | None:
    if not isinstance(raw, Mapping):
        problems.add("", f"the spec must be a table, {got(raw)}")
        return None
    top = _check_table(raw, "", "", problems)

    src_specs = []
    for i, s in _parse_array(raw, "sources", problems, required=True):
        if s.get("path"):
            path = _abspath(s["path"], base)
            src_specs.append((i, SourceSpec(name=s.get("name") or _default_name(path), path=path)))
    problems.items += check_names([(i, s.name) for i, s in src_specs], "sources")

    backbones = _parse_array(raw, "backbones", problems, required=False)
    if "backbones" not in raw:
        backbones = [(0, _check_table({}, "backbones", "backbones[0]", problems))]
    bb_specs = [(i, _backbone(i, b, base, problems)) for i, b in backbones]
    problems.items += check_names([(i, b.name) for i, b in bb_specs], "backbones")
    _check_models(bb_specs, problems)

    extraction = ExtractionSpec(**_check_table(raw.get("extraction", {}), "extraction", "extraction", problems))
    cv = CVSpec(**_check_table(raw.get("cv", {}), "cv", "cv", problems))
    cls_raw = raw.get("classify", {})
    cls = _check_table(cls_raw, "classify", "classify", problems)
    cls_raw = cls_raw if isinstance(cls_raw, Mapping) else {}
    cls["head_pca"], cls["grids"], found = check_head_tables(
        cls_raw.get("head_pca", {}), cls_raw.get("grids", {}), heads=cls["heads"], pca=cls["pca"],
        probability=cls["probability"], nested=cv.nested)
    problems.items += found

    output = _abspath(top["output"], base)
    if os.path.exists(output) and not os.path.isdir(output):
        problems.add("output", f"{output!r} exists and is not a folder; choose another output folder")
    cache_dir = _abspath(top["cache_dir"], base) if top["cache_dir"] else None
    if cache_dir and os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
        problems.add("cache_dir", f"{cache_dir!r} exists and is not a folder; choose another cache folder")
    tls = _tls_paths(top, base, problems)
    return Spec(
        sources=tuple(s for _, s in src_specs), backbones=tuple(b for _, b in bb_specs), extraction=extraction,
        classify=ClassifySpec(**cls), cv=cv,
        metrics=MetricsSpec(**_check_table(raw.get("metrics", {}), "metrics", "metrics", problems)),
        report=ReportSpec(**_check_table(raw.get("report", {}), "report", "report", problems)),
        finetune=_finetune(raw, [b for _, b in bb_specs], problems),
        output=output, cache_dir=cache_dir, cluster=top["cluster"], **tls, title=top["title"], notes=tuple(top["notes"]),
    )


def _tls_paths(top: dict, base: str, problems: Problems) -> dict:
    """The tls_* keys as absolute paths (relative ones against the spec file's folder); a file
    that is not there, or a CA without a certificate (or the reverse), is a problem naming the key."""
    paths = {k: _abspath(top[k], base) if top[k] else None for k in ("tls_ca_file", "tls_cert", "tls_key")}
    for key, path in paths.items():
        if path is not None and not os.path.isfile(path):
            problems.add(key, f"{path!r} is not a file; give the PEM file made for this cluster (relative paths are "
                              "resolved against the spec file's folder)")
    if any(paths.values()) and not (paths["tls_ca_file"] and paths["tls_cert"]):
        problems.add("tls_ca_file" if not paths["tls_ca_file"] else "tls_cert",
                     "a tls:// scheduler needs both tls_ca_file (the CA) and tls_cert (this client's certificate, with "
                     "tls_key when the key is a file of its own)")
    return paths


def _finetune(raw, backbones, problems: Problems):
    """The [finetune] section (None when absent): its backbone must be a [[backbones]] entry and
    its layer one of that backbone's layers."""
    if "finetune" not in raw:
        return None
    ft = FinetuneSpec(**_check_table(raw["finetune"], "finetune", "finetune", problems))
    names = [b.name for b in backbones]
    chosen = next((b for b in backbones if b.name == (ft.backbone or (names[0] if names else None))), None)
    if ft.backbone is not None and chosen is None:
        problems.add("finetune.backbone", f"{ft.backbone!r} is not a [[backbones]] name; use one of {', '.join(names)}")
    elif chosen is not None and ft.layer not in chosen.layers:
        problems.add("finetune.layer", f"{ft.layer!r} is not a layer of backbone {chosen.name!r} ({', '.join(chosen.layers)}); "
                                       "add it to that backbone's layers or choose one of them")
    return ft


def _backbone(i: int, b: dict, base: str, problems: Problems) -> BackboneSpec:
    model, weights = b["model"], b["weights"]
    if weights not in ("default", "none") and (os.sep in weights or weights.endswith((".pt", ".pth", ".bin"))):
        weights = _abspath(weights, base)
        if not os.path.isfile(weights):
            problems.add(f"backbones[{i}].weights", f"file {weights!r} does not exist; give an existing state_dict file, 'default' or 'none'")
    if model.endswith((".pt", ".pth", ".ckpt")) or os.sep in model:
        model = _abspath(model, base)
    name = b.get("name") or safe_name(os.path.splitext(os.path.basename(model))[0] if os.sep in model else model.replace(":", "-"))
    return BackboneSpec(name=name, model=model, weights=weights, layers=tuple(dict.fromkeys(b["layers"])), pool=b["pool"])


def _parse_array(raw, name, problems, *, required) -> list[tuple[int, dict]]:
    entries, found = check_array(raw, name, SCHEMA[name], required=required, required_keys=_required(name))
    problems.items += found
    return entries


def _check_models(bb_specs, problems: Problems) -> None:
    from featx.extract import check_model

    for i, b in bb_specs:
        for message in check_model(b.model):
            problems.add(f"backbones[{i}].model", message)


def _check_sources(spec: Spec, problems: Problems) -> None:
    """List each source (no decoding): exists, labelled, >= 2 classes, groups for 'grouped'."""
    from featx.extract import check_source

    for i, src in enumerate(spec.sources):
        where = f"sources[{i}].path"
        if not os.path.exists(src.path):
            problems.add(where, f"{src.path!r} does not exist (relative paths are resolved against the spec file's folder)")
            continue
        table, found = check_source(src.path)
        for message in found:
            problems.add(where, message)
        if table is not None and spec.cv.scheme == "grouped" and not any(table.groups):
            problems.add("cv.scheme", f"'grouped' needs groups but source {src.name!r} has none (a folder source has no groups; "
                                      "use a CSV manifest with a group column, or scheme = 'stratified')")


# ---------------------------------------------------------------------------------------------
# Deep checks: build each backbone once and check its layers
# ---------------------------------------------------------------------------------------------


def check_backbones(spec: Spec) -> dict[str, ResolvedBackbone]:
    """Build every backbone (weights loaded) and check its layers with one dry run each.

    All problems are collected and raised at once as :class:`SpecError`.
    """
    from featx.extract import resolve_backbone

    problems = Problems()
    out: dict[str, ResolvedBackbone] = {}
    for i, b in enumerate(spec.backbones):
        resolved, found = resolve_backbone(b.model, b.weights, b.layers, b.pool, spec=b)
        for what, message in found:
            problems.add(f"backbones[{i}].{what}", message)
        if resolved is not None:
            out[b.name] = resolved
    if spec.finetune is not None:
        _check_finetune(spec, out, problems)
    if problems.items:
        raise SpecError(problems.items)
    return out


def _check_finetune(spec: Spec, resolved: dict, problems: Problems) -> None:
    """The transfer study's strategies against its backbone's block groups (from the bare
    architecture) and its early-stopping split against each class of each held-out training part."""
    import numpy as np

    from featx.classify.transfer import holdout_splits
    from featx.extract import check_source
    from featx.extract.finetune import split_problem, strategy_problems

    ft = spec.finetune
    name = ft.backbone or spec.backbones[0].name
    rb = resolved.get(name)
    if rb is not None:
        model = rb.backbone.spec
        for message in strategy_problems(model.source, model.arch, ft.strategies, where="",
                                         full="'full' in finetune.strategies"):
            problems.add("finetune.strategies", message)
    for src in spec.sources:
        table, found = check_source(src.path)
        if table is None or found:
            continue
        rows = np.flatnonzero(table.labels >= 0)
        y = table.labels[rows]
        try:
            holdout = holdout_splits(y, [table.splits[r] for r in rows] if table.splits else None,
                                     folds=ft.holdout_folds, seed=ft.seed)
        except ValueError:  # the study's own line names it (too few images to hold any out)
            continue
        for train, _test in holdout.splits:
            counts = np.bincount(y[train], minlength=len(table.class_names))
            message = split_problem(dict(zip(table.class_names, counts.tolist())), ft.val_fraction,
                                    "finetune.val_fraction")
            if message:
                problems.add("finetune.val_fraction", f"source {src.name!r}: {message}")
                break
