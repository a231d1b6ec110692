"""Issue 15's backbones and pre-screen, in one run on the same images:

1. extraction throughput of efficientnet_lite0 / lite1 / lite2 (shipped ImageNet weights, the
   default runtime) on the same images, passes interleaved (lite0, lite1, lite2, then the reverse
   order ...); every pass rewrites its cache (``overwrite=True``) after one untimed warm-up pass
   per model (weights, OpenVINO conversion into the model cache);
2. LogME of every (backbone, layer) feature set against a cross-validation of the same feature
   sets (``featx.classify.compare``, the CLI's defaults, one job): seconds of each, their ratio, and
   the two rankings' Spearman / Kendall correlation.

    .venv/bin/python benchmarks/bench_backbones_logme.py --source ../shared/data/hymenoptera --passes 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

MODELS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
LAYERS = ("blocks.4", "blocks.5", "penultimate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=C.HYMENOPTERA)
    parser.add_argument("--passes", type=int, default=2, help="timed passes per model (interleaved)")
    parser.add_argument("--heads", default="logreg", help="heads of the CV (comma-separated)")
    parser.add_argument("--out", default=None, help="folder of the caches (default: a new temporary one); finished "
                        "caches there are reused by the warm-up, so --passes 0 times LogME and CV only")
    args = parser.parse_args()
    C.header("backbones and pre-screen (issue 15)", vars(args))

    from featx.classify import best_cv_scores, compare, rank_logme
    from featx.extract import extract
    from featx.pipelines._glue import load_feature_sets

    out = args.out or tempfile.mkdtemp(prefix="featx-bench15-")
    caches = {m: os.path.join(out, f"{m}.h5") for m in MODELS}
    rates: dict[str, list[float]] = {m: [] for m in MODELS}
    for m in MODELS:  # warm-up: weights, conversion, first dry runs (a finished cache is reused)
        extract(args.source, caches[m], model=m, layers=list(LAYERS), progress=False)
    for p in range(args.passes):
        for m in (MODELS if p % 2 == 0 else MODELS[::-1]):
            s = extract(args.source, caches[m], model=m, layers=list(LAYERS), progress=False, overwrite=True)
            rates[m].append(s.extracted / s.seconds)
            print(f"pass {p + 1} {m}: {s.extracted} images in {s.seconds:.1f} s ({rates[m][-1]:.1f} img/s, {s.runtime})",
                  flush=True)
    for m in MODELS if args.passes else ():
        r = statistics.median(rates[m])
        C.result("extract", model=m, images_per_s=r, ratio_to_lite0=r / statistics.median(rates[MODELS[0]]),
                 passes=rates[m])

    feature_sets = load_feature_sets([caches[m] for m in MODELS], None)
    import scipy.optimize  # noqa: F401 (LogME's one import, done before timing as compare's are)

    heads = [h.strip() for h in args.heads.split(",") if h.strip()]
    t = time.perf_counter()
    result = compare(feature_sets, heads, jobs=1)
    cv_s = time.perf_counter() - t
    metric = result.metric
    ranking = rank_logme(feature_sets).versus(best_cv_scores(result, metric), metric)
    print(ranking.table())
    C.result("logme_vs_cv", feature_sets=len(feature_sets), rows=feature_sets[0].n_samples, heads=",".join(heads),
             logme_s=ranking.seconds, cv_s=cv_s, cv_over_logme=cv_s / ranking.seconds, spearman=ranking.spearman,
             kendall=ranking.kendall)
    print(f"# load average at end: {C.load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
