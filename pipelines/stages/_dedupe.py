"""``featx cv --dedupe warn|group``: near-duplicate clusters of the rows about to be
cross-validated, either counted where they straddle the folds (``warn``; skipped above
``WARN_MAX_ROWS`` rows, as it reads every image for its hash) or made CV groups (``group``),
merged with the groups the rows already have (the cache's, and exact copies). Both find the
clusters as ``featx audit`` and ``featx run`` do: one detector, features and perceptual hashes
of the image files (:func:`near_clusters`)."""

from __future__ import annotations

import dataclasses

WARN_MAX_ROWS = 50_000  # the default check reads every image once for its hash (BENCHMARKS.md, "Audit")


def rows_paths(fs) -> list[str] | None:
    """The image paths of ``fs``'s rows, matched through its keys to the cache it came from."""
    from featx.classify.audits import unique_keys
    from featx.extract import read_cache

    cache = fs.meta.get("cache_path")
    if not cache or fs.keys is None:
        return None
    data = read_cache(cache, [fs.meta["layer"]]) if fs.meta.get("layer") else read_cache(cache)
    by_key = dict(zip(unique_keys(data.hashes, data.paths).tolist(), data.paths))
    return [by_key.get(k) for k in fs.keys.tolist()]


def near_clusters(fs):
    """``(near, phash)``: the near-duplicate clusters of ``fs``'s rows - the detector of
    ``featx audit`` and ``featx run`` (features and, when the image files are there, their
    perceptual hashes) - and the hashes used (None: features only)."""
    from featx.classify.audits import cluster_rows
    from featx.pipelines._glue import image_hashes

    paths = rows_paths(fs)
    phash = image_hashes(fs.meta["cache_path"], paths) if paths is not None and None not in paths else None
    _, near = cluster_rows(fs.X, phash=phash)
    return near, phash


def apply_dedupe(feature_sets: list, mode: str, *, folds: int, repeats: int, seed: int) -> tuple[list, str | None]:
    """The feature sets to cross-validate and a line for the user (None: nothing to say)."""
    from featx.classify import DEDUPE, make_splitter
    from featx.classify.audits import leak_groups, straddling

    mode = DEDUPE.check(mode)
    first = feature_sets[0]
    if mode == "warn" and first.n_samples > WARN_MAX_ROWS:
        return feature_sets, (f"near-duplicate check skipped: {first.n_samples} rows is over {WARN_MAX_ROWS} for the "
                              f"default check (it reads every image for its hash); run 'featx audit' or pass --dedupe group")
    near, phash = near_clusters(first)
    clusters = [rows for rows, _ in near]
    if mode == "warn":
        splits = make_splitter(first.y, first.groups, folds=folds, repeats=repeats, seed=seed, class_names=first.class_names)
        n = straddling(clusters, splits)
        if not n:
            return feature_sets, None
        return feature_sets, (f"{n} of {len(clusters)} near-duplicate cluster(s) fall on both sides of a fold, which can "
                              f"inflate the scores; pass --dedupe group to keep each cluster in one CV group")
    if not clusters:
        return feature_sets, "dedupe group: no near-duplicate clusters found; folds as without --dedupe"
    groups = leak_groups(first.n_samples, [], near, first.groups)
    out = [dataclasses.replace(fs, groups=groups) for fs in feature_sets]
    how = "features and image hashes" if phash is not None else "features only"
    return out, f"dedupe group: {len(clusters)} near-duplicate cluster(s) ({how}) kept in one CV group each"
