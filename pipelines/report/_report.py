"""``report.html`` (self-contained: CSS inline, PNG plots as base64) and ``results.json``.

The page is a header, the best configurations and notes, then :data:`SECTIONS` in order: each
a builder ``section(page) -> list of HTML parts`` under its own heading and navigation link.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from importlib.resources import files
from string import Template

from featx.classify import PCA, confusion_png, learning_curve_png, variance_png
from featx.classify.cv import METRIC_LABELS
from featx.classify.heads import params_text
from featx.common import to_jsonable, versions, write_json, write_text
from featx.common.html import escape as _e, figure as _img, is_number as ok_number, kv_table as _kv_table, number as _f
from featx.common.html import table as _grid
from featx.pipelines.report import _plots
from featx.pipelines.report._audit import audit_section
from featx.pipelines.report._logme import logme_records, logme_section
from featx.pipelines.report._transfer import transfer_section

_VERSIONS = ("featx", "torch", "torchvision", "timm", "scikit-learn", "xgboost", "numpy", "h5py", "matplotlib")

#: the report's style sheet and page skeleton (``$title``, ``$css``, ``$version``, ``$created``,
#: ``$output``, ``$nav``, ``$body``): ``report.css`` and ``report.html`` beside this module, package data
CSS = files("featx.pipelines").joinpath("report.css").read_text(encoding="utf-8")
PAGE = Template(files("featx.pipelines").joinpath("report.html").read_text(encoding="utf-8"))


def spec_text(spec) -> str:
    """The spec as the user wrote it (a file's text) or as TOML rendered from the dict."""
    from featx.pipelines._spec import to_toml

    if spec.text:
        return spec.text
    try:
        return to_toml(dict(spec.raw) if spec.raw else spec.to_dict())
    except (ValueError, TypeError):
        return json.dumps(to_jsonable(dict(spec.raw)), indent=2)


def _backbones_doc(resolved) -> dict:
    return {name: {"model": rb.spec.model, "weights": rb.spec.weights, "pool": rb.spec.pool, **rb.as_record()}
            for name, rb in resolved.items()}


def results_doc(result, resolved, command: str) -> dict:
    spec = result.spec
    return to_jsonable({
        "format": "featx.results", "format_version": 1,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "title": spec.title, "command": command, "notes": list(result.notes),
        "spec_origin": spec.origin, "spec": spec.to_dict(), "spec_text": spec_text(spec),
        "main_metric": spec.metrics.main,
        "best": dict(result.best),
        "records": list(result.records),
        "datasets": dict(result.datasets),
        "backbones": _backbones_doc(resolved),
        "extractions": list(result.extractions),
        "learning_curves": dict(result.learning_curves),
        "audit": {s: a["findings"] for s, a in result.audits.items()},
        "logme": logme_records(result.logme),  # the LogME pre-screen beside the CV ranking
        "transfer": list(result.transfer.get("records", [])),  # the [finetune] study: one record per approach
        "transfer_efficiency": list(result.transfer.get("efficiency", [])),
        "transfer_study": {k: result.transfer[k] for k in ("holdout", "verdicts", "similarity", "similarity_by_source")
                           if k in result.transfer},
        "pca": {s: {fs: {k: v for k, v in d.items() if k != "ratio"} for fs, d in docs.items()} for s, docs in result.pca.items()},
        "timings": dict(result.timings),
        "cv": {"computed": result.cv_computed, "cached": result.cv_cached},
        "report": os.path.abspath(result.report_path),
        "versions": versions(*_VERSIONS),
    })


def write_results_json(result, resolved, command: str) -> str:
    return write_json(result.results_path, results_doc(result, resolved, command))


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def _params_cell(rec: dict) -> str:
    params = rec.get("best_params") or []
    if not params:
        return "<span class='muted'>fixed (no search)</span>"
    searched = set(rec.get("searched_params") or [])
    mode = rec.get("params_mode") or {}
    shown = {k: v for k, v in mode.items() if k in searched} if searched else {}
    fixed = {k: v for k, v in mode.items() if k not in searched}
    every = "; ".join(f"fold {i + 1}: {params_text(p) or 'defaults'}" for i, p in enumerate(params))
    if fixed:
        every += f" | fixed by the grid: {params_text(fixed)}"
    text = params_text(shown) or ("single candidate" if mode else "defaults")
    return (f"<span title='{_e(every)}'>{_e(text)}</span> "
            f"<span class='ci'>({rec.get('params_mode_folds')}/{len(params)} folds)</span>")


def _results_table(records: list[dict], spec) -> str:
    main = spec.metrics.main
    shown = [main] + [m for m in spec.metrics.show if m != main]
    sign = 1 if main == "log_loss" else -1
    rows = sorted(records, key=lambda r: (not ok_number(r.get(f"{main}_mean")), sign * (r.get(f"{main}_mean") or 0)))
    many = len({r["backbone"] for r in records}) > 1
    head = ["#"] + (["backbone"] if many else []) + ["layer", "head"]
    out = ["<div class='scroll'><table class='results'><thead><tr>"]
    out += [f"<th>{_e(h)}</th>" for h in head]
    for m in shown:
        label = METRIC_LABELS.get(m, m)
        out.append(f"<th class='num'>{_e(label)}{' (main)' if m == main else ''}<br><span class='ci'>mean ± std [95% CI]</span></th>")
    out += ["<th>chosen hyperparameters<br><span class='ci'>most frequent over outer folds</span></th>",
            "<th class='num'>fit time / fold<br><span class='ci'>mean (total)</span></th></tr></thead><tbody>"]
    for rank, r in enumerate(rows, 1):
        cls = " class='best'" if r.get("best") else ""
        alias = r.get("layer_as_written")
        layer = (f"{_e(r['layer'])}<br><span class='ci'>{'' if not alias or alias == r['layer'] else _e(alias) + ', '}"
                 f"{r.get('feature_dim', '')}-d</span>")
        cells = [f"<td class='num'>{rank}{' ★' if r.get('best') else ''}</td>"]
        if many:
            cells.append(f"<td>{_e(r['backbone'])}</td>")
        cells += [f"<td>{layer}</td>", f"<td>{_e(r['head'])}</td>"]
        for m in shown:
            cells.append(
                f"<td class='num'>{_f(r.get(f'{m}_mean'))} ± {_f(r.get(f'{m}_std'))}"
                f"<br><span class='ci'>[{_f(r.get(f'{m}_ci95_low'))}, {_f(r.get(f'{m}_ci95_high'))}]</span></td>"
            )
        cells.append(f"<td class='params'>{_params_cell(r)}</td>")
        cached = "<br><span class='ci' title='result reused from cv-cache'>cached</span>" if r.get("cached") else ""
        cells.append(f"<td class='num'>{_f(r.get('fit_time_mean'), 2)} s<br><span class='ci'>({_f(r.get('fit_time_total'), 1)} s)</span>{cached}</td>")
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


class _Page:
    """What every section of the report reads: the job's result and its results.json document,
    the command, the main metric (and its label) and the folder the plots are written to."""

    def __init__(self, result, doc: dict, command: str, plots_dir: str):
        self.result, self.spec, self.doc, self.command, self.plots_dir = result, result.spec, doc, command, plots_dir
        self.main = self.spec.metrics.main
        self.main_label = METRIC_LABELS.get(self.main, self.main)

    def sources(self, parts: list):
        """Per source (under its own heading when there are several): the source, its records, its
        best record and that record's CVResult."""
        for src in self.spec.sources:
            if len(self.spec.sources) > 1:
                parts.append(f"<h3>{_e(src.name)}</h3>")
            best = self.result.best[src.name]
            recs = [r for r in self.result.records if r["source"] == src.name]
            yield src, recs, best, self.result.comparisons[src.name].get(best["feature_set"], best["head"])


def _summary(page: _Page) -> list[str]:
    spec, main = page.spec, page.main
    parts = []
    for source, rec in page.result.best.items():
        parts.append(
            f"<div class='callout' id='best-{_e(source)}'>Best configuration on <b>{_e(source)}</b>: "
            f"<b>{_e(rec['backbone'])}</b> / layer <b>{_e(rec['layer'])}</b> / head <b>{_e(rec['head'])}</b> — "
            f"{_e(page.main_label)} <b class='score'>{_f(rec[f'{main}_mean'])}</b> ± {_f(rec[f'{main}_std'])} "
            f"(95% CI {_f(rec[f'{main}_ci95_low'])}–{_f(rec[f'{main}_ci95_high'])}), "
            f"{'nested ' if spec.cv.nested else ''}{_e(spec.cv.scheme)} {rec.get('n_folds')}-fold CV"
            f"{f' x {spec.cv.repeats}' if spec.cv.repeats > 1 else ''}, {rec.get('n_samples')} images.</div>"
        )
        # the page the explore stage wrote (featx.pipelines.stages._explore.explore_name)
        name = "explore.html" if len(spec.sources) == 1 else f"explore-{source.replace(os.sep, '_')}.html"
        if os.path.exists(os.path.join(spec.output, name)):
            parts.append(f"<p><a href='{_e(name)}'>Explore {_e(source)}</a>: the interactive map of its images "
                         f"(thumbnails, neighbours, findings, selection export).</p>")
    if page.result.notes:
        parts.append("<div class='notes'><b>Notes</b><ul>" + "".join(f"<li>{_e(n)}</li>" for n in page.result.notes) + "</ul></div>")
    return parts


def _results_section(page: _Page) -> list[str]:
    spec, result, cv = page.spec, page.result, page.spec.cv
    parts = [
        f"<p class='muted'>{'Nested' if cv.nested else 'Plain'} {_e(cv.scheme)} cross-validation: {cv.folds} outer folds"
        f"{f' x {cv.repeats} repeats' if cv.repeats > 1 else ''}"
        f"{f', inner {cv.search} search over {cv.inner_folds} folds (scored by {_e(METRIC_LABELS.get(spec.search_metric, spec.search_metric))})' if cv.nested else ''}"
        f", seed {cv.seed}; every configuration sees the same folds. PCA: {_e(PCA.describe(spec.classify.pca))}"
        f"{''.join(f'; {h}: {PCA.describe(v)}' for h, v in spec.classify.head_pca.items())}"
        f"{' (whitened)' if spec.classify.whiten else ''}, fitted inside each training fold. Rows are sorted by "
        f"{_e(page.main_label)}; the best is highlighted. The 95% interval is a t-interval over outer folds (folds share "
        f"training rows, so it is somewhat optimistic). {result.cv_computed} configuration(s) computed, "
        f"{result.cv_cached} reused from the cache.</p>"
    ]
    for _src, recs, best, r in page.sources(parts):
        parts.append(_results_table(recs, spec))
        rows = [[_e(c), _f(s["precision"]), _f(s["recall"]), _f(s["f1"]), s["support"]] for c, s in r.per_class.items()]
        parts.append(f"<details><summary>Per-class scores of the best configuration ({_e(best['feature_set'])} / {_e(best['head'])})"
                     f"</summary>{_grid(['class', 'precision', 'recall', 'F1', 'support'], rows, {1, 2, 3, 4})}</details>")
    return parts + logme_section(page)


def _plots_section(page: _Page) -> list[str]:
    spec, result, main_label, plots_dir = page.spec, page.result, page.main_label, page.plots_dir
    parts = []
    for src, recs, best, r in page.sources(parts):
        tag = src.name
        parts.append("<div class='plots'>")
        parts.append(_img(
            _plots.layer_scores(recs, page.main, f"{main_label} by layer depth ({src.name})"),
            f"{main_label} by layer depth for each head",
            f"Which layer transfers best: mean {_e(main_label)} per head by layer depth (error bars: 95% CI over "
            f"outer folds; ★ best configuration).", f"{tag}-layers.png", plots_dir,
            wide=len(spec.backbones) > 1))
        parts.append(_img(
            confusion_png(r.confusion, r.class_names, f"{best['feature_set']} / {best['head']}"),
            "confusion matrix of the best configuration",
            "Confusion matrix of the best configuration, summed over the outer test folds (colour: fraction of "
            "the true class; numbers: counts).", f"{tag}-confusion.png", plots_dir))
        curve = result.learning_curves.get(src.name)
        if curve:
            params = params_text(curve.get("params") or {}) or "default hyperparameters"
            parts.append(_img(
                learning_curve_png(curve, f"learning curve: {curve['feature_set']} / {curve['head']}"),
                "learning curve of the best configuration",
                f"Data efficiency: {_e(main_label)} on the untouched outer test folds when the head is trained on a "
                f"stratified fraction of each outer training fold (mean ± std over {curve['n_folds']} folds), with the "
                f"hyperparameters chosen most often by the search ({_e(params)}).", f"{tag}-learning-curve.png", plots_dir))
        pdocs = result.pca.get(src.name)
        if pdocs:
            cap = "; ".join(f"{_e(n)}: {d['components_for']['0.9']} / {d['components_for']['0.95']} / "
                            f"{d['components_for']['0.99']}" for n, d in pdocs.items())
            parts.append(_img(
                variance_png(pdocs, f"PCA explained variance ({src.name})", spec.classify.pca),
                "PCA explained variance per layer",
                f"Cumulative explained variance of PCA on the standardised features of every layer (all rows, "
                f"descriptive). Components for 90% / 95% / 99% of the variance: {cap}.", f"{tag}-pca.png", plots_dir))
        parts.append("</div>")
    return parts


def _data_section(page: _Page) -> list[str]:
    parts = []
    for src in page.spec.sources:
        d = page.result.datasets[src.name]
        counts = ", ".join(f"{_e(c)}: {n}" for c, n in d["counts"].items())
        rows = [("source", f"<b>{_e(src.name)}</b> <code>{_e(d['path'])}</code> ({_e(d['kind'])})"),
                ("images", f"{d['rows']} found, {d['used_rows']} used, {len(d['failures'])} failed to decode"),
                ("classes", f"{len(d['classes'])}: {counts}")]
        if d.get("groups"):
            rows.append(("groups", f"{d['groups']} distinct groups"))
        parts.append(_kv_table(rows))
        if d["failures"]:
            rows = [[f"<code>{_e(p)}</code>", _e(why)] for p, why in d["failures"][:500]]
            parts.append(f"<details><summary>Failed images</summary>{_grid(['path', 'reason'], rows)}</details>")
    return parts


def _backbones_section(page: _Page) -> list[str]:
    spec, parts = page.spec, []
    for name, b in page.doc["backbones"].items():
        prov = b["provenance"]
        layers = ", ".join(f"{_e(l['name'])}" + (f" ({_e(l['as_written'])})" if l["as_written"] != l["name"] else "") +
                           f" → {l['dim']}-d" for l in b["layers"])
        parts.append(f"<h3>{_e(name)}</h3>")
        parts.append(_kv_table([
            ("model", f"<code>{_e(prov.get('model'))}</code> ({_e(prov.get('source'))}: {_e(prov.get('arch'))})"),
            ("weights", f"{_e(prov.get('weights'))}<br><span class='ci'>sha256 {_e(prov.get('weights_sha256'))}</span>"),
            ("preprocessing", _e(b["preprocessing"])),
            ("layers", layers),
            ("pooling", f"{_e(b['pool'])}; stored as {_e(spec.extraction.dtype)}; test-time augmentation: {_e(spec.extraction.tta)}"),
        ]))
    return parts


def _timing_section(page: _Page) -> list[str]:
    result, parts = page.result, []
    t = result.timings
    parts.append(_grid(["stage", "seconds"], [[_e(k), f"{v:.1f}"] for k, v in t.items()], {1}))
    rows = []
    for e in result.extractions:
        first = e.get("first_extraction")
        rate = f" (first run: {first.get('images_per_second', 0):.1f})" if first else ""
        speed = f"{e['images_per_second']:.1f}" if e["extracted"] else f"<span class='ci'>cached{rate}</span>"
        rows.append([_e(e["source"]), _e(e["backbone"]), e["rows"], e["extracted"], e["reused"], e["failed"], f"{e['seconds']:.1f}",
                     speed, _e(e["device"]), f"<code>{_e(os.path.basename(e['cache']))}</code>"])
    parts.append(_grid(["source", "backbone", "rows", "extracted now", "reused", "failed", "seconds", "images/s", "device", "cache"],
                       rows, {2, 3, 4, 5, 6, 7}))
    parts.append(_img(_plots.stage_times({k: v for k, v in t.items()}, "time per stage (report writing excluded)"),
                      "time per stage", "Wall-clock seconds per stage of this run.", "timing.png", page.plots_dir))
    return parts


def _reproduce_section(page: _Page) -> list[str]:
    spec, parts = page.spec, []
    parts.append(f"<p>Command:</p><pre>{_e(page.command)}</pre>")
    parts.append(f"<p>Spec ({_e(spec.origin)}):</p><pre>{_e(spec_text(spec))}</pre>")
    parts.append("<details><summary>Library versions</summary>" +
                 _kv_table([(k, _e(v)) for k, v in page.doc["versions"].items()]) + "</details>")
    parts.append("<p class='muted'>results.json beside this file holds every number of this report.</p>")
    return parts


#: the report's sections in order: (anchor, link text, heading, builder); the links form the page's navigation
SECTIONS = (
    ("results", "Results", "Results: every backbone × layer × head", _results_section),
    ("plots", "Plots", "Plots", _plots_section),
    ("audit", "Audit", "Audit: duplicates, leaks, label issues", audit_section),
    ("transfer", "Transfer", "Frozen vs fine-tuned vs scratch", transfer_section),  # with a [finetune] section only
    ("data", "Data", "Data", _data_section),
    ("backbones", "Backbones", "Backbones and preprocessing", _backbones_section),
    ("timing", "Timing", "Timing", _timing_section),
    ("reproduce", "Reproduce", "Reproduce", _reproduce_section),
)


def write_report(result, resolved, command: str) -> str:
    """Write ``report.html`` and ``results.json`` into the output folder (plots also as PNG
    files under ``plots/``); returns the report path."""
    spec = result.spec
    plots_dir = os.path.join(spec.output, "plots")
    os.makedirs(plots_dir, exist_ok=True)
    page = _Page(result, results_doc(result, resolved, command), command, plots_dir)
    parts = _summary(page)
    sections = [s for s in SECTIONS if s[0] != "transfer" or page.result.transfer]
    for anchor, _, heading, section in sections:
        parts.append(f"<h2 id='{anchor}'>{heading}</h2>")
        parts += section(page)
    nav = "".join(f"<a href='#{anchor}'>{link}</a>" for anchor, link, _, _ in sections)
    write_text(result.report_path, PAGE.substitute(title=_e(spec.title), css=CSS, version=_e(page.doc["versions"].get("featx")),
                                                   created=_e(page.doc["created"]), output=_e(spec.output), nav=nav,
                                                   body="\n".join(parts)))
    write_results_json(result, resolved, command)
    return result.report_path
