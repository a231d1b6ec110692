"""The report's "Frozen vs fine-tuned vs scratch" section: the transfer records as a table (negative
transfer flagged), the data-efficiency and convergence plots, and the recommendation computed by
featx.classify's :func:`transfer_verdict`, beside the size x similarity decision matrix."""

from __future__ import annotations

from featx.classify.cv import METRIC_LABELS
from featx.classify.transfer import TRANSFER_MATRIX, convergence_png, describe_transfer, efficiency_png, negative_transfer
from featx.common.html import escape as _e, figure as _img, number as _f, table as _grid

_APPROACH = {"frozen": "frozen features", "finetuned": "fine-tuned (own head)",
             "finetuned_features": "heads on fine-tuned features", "scratch": "scratch (random init)"}


def transfer_section(page) -> list[str]:
    study, spec = page.result.transfer, page.spec
    ft, main = spec.finetune, page.main
    parts = [f"<p class='muted'>Every approach is trained on the training part only and scored on the same held-out "
             f"images; early stopping uses a {ft.val_fraction:g} validation split of the training part. Fine-tuning: "
             f"{_e(', '.join(ft.strategies))}, at most {ft.epochs} epochs (patience {ft.patience}); scratch: the same "
             f"architecture from random init, strategy full, the same budget. Classical heads use layer "
             f"<code>{_e(ft.layer)}</code>. Intervals: 95% bootstrap over the held-out images; "
             "paired differences resample the same images for both approaches (within each held-out fold), with "
             "McNemar's exact test on accuracy.</p>"]
    shown = list(dict.fromkeys([main, *spec.metrics.show]))
    for src in spec.sources:
        if len(spec.sources) > 1:
            parts.append(f"<h3>{_e(src.name)}</h3>")
        recs = [r for r in study["records"] if r["source"] == src.name]
        parts.append(f"<p>Held out: {_e(study['holdout'][src.name]['description'])}.</p>")
        parts.append(_table(recs, shown, main))
        parts += _verdict(study["verdicts"].get(src.name) or {}, recs, main)
        parts.append("<div class='plots'>")
        points = [r for r in study["efficiency"] if r["source"] == src.name]
        if points:
            curves = {}
            for r in points:
                curves.setdefault(describe_transfer(r), (r["approach"], []))[1].append(r)
            parts.append(_img(efficiency_png(curves, main, f"data efficiency ({src.name})"), "data-efficiency plot",
                              f"Held-out {_e(page.main_label)} against training images (stratified subsets of the training "
                              "part; band: 95% bootstrap interval) for the frozen heads, the fine-tuning strategy with the "
                              "lowest validation loss and scratch.", f"{src.name}-transfer-efficiency.png", page.plots_dir))
        histories = {describe_transfer({"approach": k.split(":", 1)[0], "strategy": k.split(":", 1)[1]}): (k.split(":", 1)[0], h)
                     for k, h in study["histories"].get(src.name, {}).items()}
        if histories:
            parts.append(_img(convergence_png(histories, f"convergence ({src.name})"), "convergence plot",
                              "Validation loss and accuracy per epoch (validation split of the training part) of each "
                              "fine-tuning strategy (solid) and scratch (dashed).", f"{src.name}-transfer-convergence.png",
                              page.plots_dir))
        parts.append("</div>")
    return parts


def _table(recs, shown, main) -> str:
    flagged = {id(n["record"]): n for n in negative_transfer(recs, main)}
    head = ["approach", "strategy", "head", "train / held out"] + [
        f"{METRIC_LABELS.get(m, m)}{' (main)' if m == main else ''}" for m in shown] + ["vs best frozen (paired)", "epochs", "seconds", ""]
    rows = []
    for r in recs:
        flag = flagged.get(id(r))
        note = (f"<span class='warn' title='scratch {_f(flag['scratch'][f'{main}_mean'])}'>negative transfer: scratch "
                f"{'beats' if flag['beats'] else 'matches'} it</span>") if flag else ""
        rows.append([_e(_APPROACH[r["approach"]]), _e(r["strategy"] or "–"), _e(r["head"] or "–"),
                     f"{r['n_train']} / {r['n_test']}"]
                    + [f"{_f(r.get(f'{m}_mean'))}<br><span class='ci'>[{_f(r.get(f'{m}_ci95_low'))}, "
                       f"{_f(r.get(f'{m}_ci95_high'))}]</span>" for m in shown]
                    + [_paired_cell(r)]
                    + [r["epochs_run"] if r["epochs_run"] is not None else "–", _f(r["seconds"], 1)
                       + ("<br><span class='ci'>cached</span>" if r.get("cached") else ""), note])
    numeric = set(range(3, 4 + len(shown) + 3))
    return "<div class='scroll transfer'>" + _grid(head, rows, numeric).replace("<table>", "<table class='transfer'>", 1) + "</div>"


def _paired_cell(r) -> str:
    """The record against the best frozen one on the same images: difference, paired interval, McNemar p, word."""
    if r.get("delta_vs_frozen") is None:
        return "reference" if r["approach"] == "frozen" and r.get("paired") is None and r.get("vs") is None else "–"
    lo, hi = r["delta_ci95"]
    return (f"{r['delta_vs_frozen']:+.3f}<br><span class='ci'>[{lo:+.3f}, {hi:+.3f}] p={r['p_value']:.2g}</span>"
            f"<br>{_e(r['paired'])}")


def _verdict(verdict: dict, recs, main) -> list[str]:
    if not verdict:
        return ["<p class='muted'>No held-out score could be computed.</p>"]
    cell = tuple(verdict["cell"]) if verdict.get("cell") else None
    rows = []
    for size in ("small", "large"):
        cells = [f"<th>{size} data</th>"]
        for sim in ("similar", "different"):
            mark = " class='best'" if cell == (size, sim) else ""
            here = " <b>← this data</b>" if cell == (size, sim) else ""
            cells.append(f"<td{mark}>{_e(TRANSFER_MATRIX[(size, sim)])}{here}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    matrix = ("<table class='matrix'><thead><tr><th></th><th>similar to the pretraining data</th><th>different</th></tr>"
              "</thead><tbody>" + "".join(rows) + "</tbody></table>")
    return [_similarity_line(verdict.get("measured_similarity")),
            f"<div class='verdict'><div class='callout' id='transfer-verdict'><b>Recommendation.</b> {_e(verdict['text'])}</div>"
            f"{matrix}</div>"]


def _similarity_line(sim: dict | None) -> str:
    """The measured domain similarity on its own line: value, method, verdict and threshold."""
    if not sim:
        return "<p id='transfer-similarity'>Measured domain similarity: not measured.</p>"
    sign = "<=" if sim.get("direction", "lower") == "lower" else ">="
    cut = f"{sign} {sim['threshold']:g} counts as similar" if sim.get("threshold") is not None else "no threshold"
    n = f", {sim['n_images']} images" if sim.get("n_images") else ""
    return (f"<p id='transfer-similarity'>Measured domain similarity (before any fine-tuning): "
            f"<b>{_e(sim['verdict'])}</b>, {_e(sim['method'])} = {sim['value']:.3f} (threshold: {_e(cut)}{n}).</p>")
