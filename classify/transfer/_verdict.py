"""What a transfer study's numbers say: the best record of each approach, the winner and its
margin, whether the intervals overlap, negative transfer (scratch matching or beating a
pretrained approach), and the cell of the classic dataset-size x similarity decision matrix
(similarity measured before fine-tuning, ``_similarity``), with whether the outcome agrees with
that cell's classic advice, all put into a paragraph built from the numbers.

Records are the dicts of a study's ``transfer`` list: ``approach`` (frozen, finetuned,
finetuned_features, scratch), ``strategy``, ``head``, ``n_train`` and ``<metric>_mean`` /
``_ci95_low`` / ``_ci95_high``.
"""

from __future__ import annotations

import math

from featx.classify._metrics import LOWER_IS_BETTER, METRIC_LABELS

APPROACHES = ("frozen", "finetuned", "finetuned_features", "scratch")
PRETRAINED = ("frozen", "finetuned", "finetuned_features")
#: a training set with fewer images per class than this counts as small: the guides' small data
#: sets (hymenoptera's 122 per class, the brain MRI's 200) are in the hundreds per class
SMALL_PER_CLASS = 500

#: the classic decision matrix: (size, similarity) -> what the guides advise; ADVISED: its approaches
ADVISED = {("small", "similar"): ("frozen",), ("small", "different"): ("finetuned", "finetuned_features"),
           ("large", "similar"): ("finetuned", "finetuned_features"),
           ("large", "different"): ("finetuned", "finetuned_features", "scratch")}
TRANSFER_MATRIX = {
    ("small", "similar"): "frozen features with a linear head (fine-tuning risks overfitting)",
    ("small", "different"): "fine-tune the top blocks, or classical heads on fine-tuned (or earlier) features",
    ("large", "similar"): "fine-tune the top blocks",
    ("large", "different"): "fine-tune the whole network (training from scratch becomes viable)",
}


def describe_transfer(rec: dict) -> str:
    """A record in words: 'frozen features + logreg', 'fine-tuned [partial:2] (own head)', ..."""
    a, s, h = rec["approach"], rec.get("strategy"), rec.get("head")
    if a == "frozen":
        return f"frozen features + {h}"
    if a == "finetuned":
        return f"fine-tuned [{s}] (own head)"
    if a == "finetuned_features":
        return f"{h} on fine-tuned [{s}] features"
    return f"scratch ({s or 'full'}, random init)"


def _better(metric: str):
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    return lambda rec: sign * rec[f"{metric}_mean"]


def _ok(rec: dict, metric: str) -> bool:
    v = rec.get(f"{metric}_mean")
    return isinstance(v, (int, float)) and not math.isnan(v)


def overlap(a: dict, b: dict, metric: str) -> bool:
    """Whether the 95% intervals of two records overlap (no interval: treated as overlapping)."""
    lo_a, hi_a, lo_b, hi_b = (x.get(f"{metric}_ci95_{e}") for x in (a, b) for e in ("low", "high"))
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (lo_a, hi_a, lo_b, hi_b)):
        return True
    return lo_a <= hi_b and lo_b <= hi_a


def negative_transfer(records, metric: str) -> list[dict]:
    """Pretrained records that the best scratch record matches or beats: by the paired test
    (``vs_scratch``) where the record has one, else by overlapping marginal intervals:
    ``{"record", "scratch", "beats"}`` each."""
    ok = [r for r in records if _ok(r, metric)]
    scratch = [r for r in ok if r["approach"] == "scratch"]
    if not scratch:
        return []
    key = _better(metric)
    best_scratch = max(scratch, key=key)
    out = []
    for r in ok:
        if r["approach"] not in PRETRAINED:
            continue
        paired = (r.get("vs_scratch") or {}).get("verdict")
        if paired is not None:  # the paired test on the same images decides
            if paired != "better":
                out.append({"record": r, "scratch": best_scratch, "beats": paired == "worse"})
        elif key(best_scratch) >= key(r) or overlap(best_scratch, r, metric):
            out.append({"record": r, "scratch": best_scratch, "beats": key(best_scratch) > key(r)})
    return out


_FLIP = {"better": "worse", "worse": "better"}


def paired_between(a: dict, b: dict) -> dict | None:
    """The paired comparison of record ``a`` against ``b`` from the fields the study added
    (``delta_vs_frozen`` / ``delta_ci95`` / ``p_value`` / ``paired`` against the best frozen
    record, ``vs_scratch`` against the best scratch one): ``{"delta", "ci95", "p_value",
    "verdict"}`` of a - b, or None when neither is the other's reference."""
    def as_ref(x, y):  # x measured against y
        if x.get("vs") is not None and x.get("vs") == describe_transfer(y) and x.get("delta_vs_frozen") is not None:
            return {"delta": x["delta_vs_frozen"], "ci95": list(x["delta_ci95"]), "p_value": x["p_value"], "verdict": x["paired"]}
        vs = x.get("vs_scratch")
        if vs and vs.get("vs") == describe_transfer(y):
            return {"delta": vs["delta"], "ci95": list(vs["ci95"]), "p_value": vs["p_value"], "verdict": vs["verdict"]}
        return None
    d = as_ref(a, b)
    if d is not None:
        return d
    d = as_ref(b, a)
    if d is None:
        return None
    return {"delta": -d["delta"], "ci95": [-d["ci95"][1], -d["ci95"][0]], "p_value": d["p_value"],
            "verdict": _FLIP.get(d["verdict"], d["verdict"])}


def paired_words(d: dict) -> str:
    """'+0.050 (paired 95% CI +0.020 to +0.080, McNemar p = 0.003): better'."""
    return (f"{d['delta']:+.3f} (paired 95% CI {d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f}, McNemar p = "
            f"{d['p_value']:.3g}): {d['verdict']}")


def transfer_verdict(records, metric: str, *, n_classes: int, similarity: dict | None = None) -> dict:
    """The verdict of one source's records: ``best`` (approach -> its best record), ``winner``,
    ``runner_up`` (the best record of another approach), ``margin``, ``overlap``, ``negative``
    (:func:`negative_transfer`), ``size``, ``similarity`` (the measured verdict, 'similar' or
    'different', of ``similarity``: a :func:`featx.classify.transfer.domain_similarity` record
    computed before any fine-tuning; None without one), ``cell`` (a :data:`TRANSFER_MATRIX` key,
    None without a measured similarity), ``advice``, ``gain_agrees`` (whether the fine-tuning gain
    the paired test found is what the cell's classic advice predicts) and ``text`` (the
    paragraph). Empty dict when no record has a number. Similarity is never inferred from the
    outcome."""
    ok = [r for r in records if _ok(r, metric)]
    if not ok:
        return {}
    key = _better(metric)
    best = {a: max((r for r in ok if r["approach"] == a), key=key) for a in APPROACHES if any(r["approach"] == a for r in ok)}
    ranked = sorted(best.values(), key=key, reverse=True)
    winner = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else None
    label = METRIC_LABELS.get(metric, metric)
    n_train = int(winner.get("n_train") or 0)
    per_class = n_train / max(1, int(n_classes))
    size = "small" if per_class < SMALL_PER_CLASS else "large"
    tuned = [best[a] for a in ("finetuned", "finetuned_features") if a in best]
    measured = similarity
    similarity = None if not measured else measured.get("verdict")
    gain, detected, tuned_vs_frozen = None, None, None
    if "frozen" in best and tuned:
        top_tuned = max(tuned, key=key)
        gain = key(top_tuned) - key(best["frozen"])
        tuned_vs_frozen = paired_between(top_tuned, best["frozen"])
        if tuned_vs_frozen is not None:
            detected = tuned_vs_frozen["verdict"] == "better"
        else:
            detected = gain > 0 and not overlap(top_tuned, best["frozen"], metric)
    negative = negative_transfer(ok, metric)
    margin = None if runner is None else key(winner) - key(runner)
    over = None if runner is None else overlap(winner, runner, metric)

    def shown(r):
        return (f"{describe_transfer(r)} ({label} {r[f'{metric}_mean']:.3f}, 95% CI {_num(r.get(f'{metric}_ci95_low'))}–"
                f"{_num(r.get(f'{metric}_ci95_high'))})")

    text = [f"With {n_train} training images ({per_class:.0f} per class, {int(winner.get('n_test') or 0)} held out), "
            f"{shown(winner)} scores best"]
    pair = None if runner is None else paired_between(winner, runner)
    if pair is not None:
        over = pair["verdict"] == "no detectable difference"
        text[-1] += (f", {abs(margin):.3f} ahead of {shown(runner)}; on the same held-out images the difference is "
                     f"{paired_words(pair)}.")  # paired_words ends with the verdict word: said once
    elif runner is not None:
        text[-1] += (f", {abs(margin):.3f} ahead of {shown(runner)}; the marginal intervals "
                     + ("overlap (no paired comparison between these two was made)." if over
                        else "do not overlap, so the lead is larger than the held-out noise."))
    else:
        text[-1] += "."
    if gain is not None:
        if tuned_vs_frozen is not None:
            text.append(f"Against the best frozen approach, {describe_transfer(top_tuned)} changes the score by "
                        f"{paired_words(tuned_vs_frozen)}.")
        else:
            text.append(f"Fine-tuning changes the best frozen score by {gain:+.3f}, "
                        + ("beyond the intervals." if detected else "within the intervals."))
    if "scratch" in best:
        s = best["scratch"]
        pre = max((best[a] for a in PRETRAINED if a in best), key=key, default=None)
        if pre is not None:
            d = key(pre) - key(s)
            ps = paired_between(pre, s)
            if ps is not None:
                verdict = {"better": "behind the best pretrained approach: pretraining pays",
                           "worse": "ahead of the best pretrained approach: negative transfer",
                           }.get(ps["verdict"], "level with the best pretrained approach on the paired test "
                                                "(negative transfer: pretraining does not measurably help)")
                verdict += f"; {describe_transfer(pre)} against scratch: {paired_words(ps)}."
            elif d > 0 and not overlap(pre, s, metric):
                verdict = "behind the best pretrained approach, beyond the intervals: pretraining pays."
            elif d > 0:
                verdict = ("behind the best pretrained approach, but the intervals overlap: scratch matches it "
                           "(negative transfer: pretraining does not measurably help).")
            else:
                verdict = "ahead of the best pretrained approach: negative transfer."
            text.append(f"Training from scratch reaches {s[f'{metric}_mean']:.3f}, {abs(d):.3f} {verdict}")
    cell = (size, similarity) if similarity in ("similar", "different") else None
    advice = TRANSFER_MATRIX.get(cell) if cell else None
    gain_agrees = None
    if advice is None:
        text.append("The domain similarity was not measured, so no cell of the size x similarity matrix is named.")
    else:
        from featx.classify.transfer._similarity import similarity_words

        text.append(f"Measured before any fine-tuning: {similarity_words(measured)}. In the size x similarity matrix "
                    f"(small: under {SMALL_PER_CLASS} training images per class) this is the {size}-data, "
                    f"{similarity}-domain cell, whose classic advice is {advice}.")
        if detected is not None:
            # the classic advice predicts a gain from fine-tuning everywhere but in the small/similar cell
            predicts_gain = cell != ("small", "similar")
            gain_agrees = bool(detected) == predicts_gain
            shown_gain = (f"{gain:+.3f} [{tuned_vs_frozen['ci95'][0]:+.3f}, {tuned_vs_frozen['ci95'][1]:+.3f}]"
                          if tuned_vs_frozen is not None else f"{gain:+.3f}")
            outcome = ("gained " + shown_gain) if detected else ("changed the score by " + shown_gain + ", no detectable gain")
            text.append(f"Fine-tuning {outcome}, which the classic advice for this cell "
                        + ("predicts." if gain_agrees else "does not predict."))
    if advice:
        advised = [best[a] for a in ADVISED[cell] if a in best]
        top = max(advised, key=key) if advised else None
        if top is winner:
            agreement = "agrees."
        elif top is not None and (paired_between(winner, top) or {}).get("verdict", "better" if not overlap(top, winner, metric)
                                                                    else "no detectable difference") == "no detectable difference":
            agreement = (f"agrees within the noise (its best, {describe_transfer(top)}, is {key(winner) - key(top):.3f} "
                         f"behind {describe_transfer(winner)}, no detectable difference).")
        else:
            agreement = f"points elsewhere ({describe_transfer(winner)} is detectably better)."
        text.append(f"Against the outcome, the advice {agreement}")
    return {"best": best, "winner": winner, "runner_up": runner, "margin": margin, "overlap": over, "negative": negative,
            "size": size, "per_class": per_class, "similarity": similarity, "measured_similarity": measured, "gain": gain,
            "gain_detected": detected, "gain_agrees": gain_agrees, "cell": cell, "advice": advice, "text": " ".join(text)}


def _num(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"
