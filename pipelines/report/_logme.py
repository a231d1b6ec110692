"""The LogME pre-screen of a ``featx run`` (issue 15): per source, every (backbone, layer)
feature set ranked by LogME (no cross-validation) beside its cross-validated ranking, with their
rank correlations; computed in the job (a stage of its own), shown under the CV results.
"""

from __future__ import annotations

from featx.common.html import escape as _e, number as _f, table as _grid


def logme_rankings(feature_sets, comparisons, metric: str) -> dict:
    """Source -> :class:`featx.classify.LogMERanking` of its feature sets beside ``comparisons``' CV ``metric``."""
    from featx.classify import best_cv_scores, rank_logme

    return {src: rank_logme(fsets).versus(best_cv_scores(comparisons[src], metric), metric)
            for src, fsets in feature_sets.items() if fsets}


def logme_records(rankings) -> dict:
    """For results.json: source -> rows (feature set, LogME and CV scores and ranks), correlations, time_s."""
    return {src: ranking.to_record() for src, ranking in rankings.items()}


def logme_section(page) -> list[str]:
    """The LogME table of each source, with the rank correlations and LogME's cost beside the CV's."""
    rankings = getattr(page.result, "logme", None) or {}
    if not rankings:
        return []
    cv_seconds = page.result.timings.get("cv")
    parts = [f"<h3 id='logme'>LogME pre-screen (no cross-validation)</h3><p class='muted'>LogME (You et al., ICML 2021) "
             "scores each feature set by the maximised evidence of a Bayesian linear model of the one-hot labels: one "
             "eigendecomposition per feature set, no folds, no heads. Higher is better; compare its ranking with the cross-validated "
             f"one (best head's {_e(page.main_label)}) before paying for CV over many backbones.</p>"]
    for src, ranking in rankings.items():
        record = ranking.to_record()
        rows = [[_e(r["feature_set"]), _f(r["logme"], 4), r["logme_rank"], _f(r["cv"]), r["cv_rank"] or "–"]
                for r in record["rows"]]
        title = f"<b>{_e(src)}</b>: " if len(rankings) > 1 else ""
        rho, tau = record["spearman"], record["kendall"]
        agreement = (f"Spearman {_f(rho, 2)}, Kendall {_f(tau, 2)}" if rho is not None and rho == rho
                     else "undefined (fewer than 3 feature sets, or all scores tied)")
        cost = (f"; the CV stage took {cv_seconds:.1f} s" if cv_seconds else "")
        parts.append(f"<p>{title}rank correlation with the CV ranking: {agreement}. LogME took "
                     f"{record['time_s']:.2f} s for {len(rows)} feature set(s){cost}.</p>")
        parts.append(_grid(["feature set", "LogME", "LogME rank", f"CV {_e(page.main_label)}", "CV rank"], rows, {1, 2, 3, 4}))
    return parts
