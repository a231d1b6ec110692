"""Shard planning for an extraction on a cluster: which rows of the source table each shard holds,
recorded in a plan file beside the shards.

A shard is a contiguous range of the source table (sorted by path for a folder), ``shard_size``
rows long, a whole number of batches, so each shard is computed in the same batches as one process
would compute the whole table. Planning reads only the table: nothing is hashed or decoded.

The plan (``OUT.shards/plan.json``, written atomically) records the shard size, the batch size,
the settings asked for, a digest of the source table and, per shard, its file and the path of its
first row; after a join also each shard's size and checksum (``joined``), by which a damaged shard
is found and recomputed. On a rerun the shards keep their first paths as boundaries: in a sorted table an image
added (or changed) falls into the one shard whose range holds its path, and only that shard's file
is rewritten (its other rows reused by the ordinary cache planning); every other shard is left
untouched. A table that is not sorted by path (a manifest in its own order) keeps the plan while
its boundary paths still appear in order, and is planned afresh otherwise.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from dataclasses import dataclass, field

from featx.common import Option
from featx.common.files import write_json

PLAN_FORMAT = "featx.shards"
PLAN_VERSION = 1
PLAN_NAME = "plan.json"
DEFAULT_MAX_SHARD_ROWS = 10_000  # ~1,000 shards for 10M images: per-shard overhead stays small
DEFAULT_SHARDS = 32  # a small source still spreads over a few workers

SHARD_SIZE = Option("shard_size", None, "rows per shard on a cluster, rounded up to whole batches (auto: about 1/32 "
                    "of the source, at most 10,000 rows; kept from the plan on reruns)",
                    kind=int, minimum=1, none_word="auto")


@dataclass(frozen=True)
class Shard:
    """Rows ``start:stop`` of the source table, written to ``file`` (a name in the shards folder)."""

    file: str
    first: str  # the path of its first row when planned: the boundary kept by later runs
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


@dataclass
class ShardPlan:
    shard_size: int
    batch_size: int
    settings: dict
    source_digest: str
    sorted_paths: bool
    shards: list[Shard] = field(default_factory=list)

    def as_record(self) -> dict:
        return {
            "format": PLAN_FORMAT, "format_version": PLAN_VERSION, "shard_size": self.shard_size,
            "batch_size": self.batch_size, "settings": self.settings, "source_digest": self.source_digest,
            "sorted_paths": self.sorted_paths, "shards": [{"file": s.file, "first": s.first} for s in self.shards],
        }


def shards_dir(output: str) -> str:
    """The folder of ``output``'s shards: ``OUT.h5.shards``."""
    return os.fspath(output) + ".shards"


def round_to_batches(rows: int, batch_size: int) -> int:
    """``rows`` rounded up to a whole number of batches."""
    return max(1, -(-int(rows) // int(batch_size))) * int(batch_size)


def default_shard_size(n_rows: int, batch_size: int) -> int:
    """About 1/32 of the source, at least one batch, at most ~10,000 rows, in whole batches."""
    rows = min(DEFAULT_MAX_SHARD_ROWS, max(1, -(-int(n_rows) // DEFAULT_SHARDS)))
    return round_to_batches(rows, batch_size)


def table_digest(paths, labels, groups, splits, class_names) -> str:
    """sha256 of a source table's rows (paths, labels, groups, splits, classes): no file is read."""
    h = hashlib.sha256()
    h.update(json.dumps(list(class_names)).encode())
    for p, y, g, s in zip(paths, labels, groups, splits):
        h.update(f"{p}\0{int(y)}\0{g}\0{s}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def read_plan(output: str) -> dict | None:
    """The plan recorded for ``output`` (plain data), or None when there is none or it is unreadable
    (planned afresh: the shard files themselves still hold every finished row)."""
    path = os.path.join(shards_dir(output), PLAN_NAME)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT or int(doc.get("format_version", 0)) > PLAN_VERSION:
        return None
    return doc


def write_plan(output: str, plan: ShardPlan, joined: list[dict] | None = None) -> str:
    """Write the plan; ``joined``: the shard records (file, rows, size, checksum) of the last join,
    kept so a damaged shard is found even when the joined file itself is gone."""
    folder = shards_dir(output)
    os.makedirs(folder, exist_ok=True)
    record = plan.as_record()
    if joined is not None:
        record["joined"] = joined
    return write_json(os.path.join(folder, PLAN_NAME), record)


def plan_shards(paths: list[str], digest: str, *, batch_size: int, settings: dict, shard_size: int | None = None,
                previous: dict | None = None) -> ShardPlan:
    """The shards of a table with rows ``paths`` (see the module docstring). ``previous`` is the
    recorded plan: its boundaries are kept when its shard size, batch size and settings are the
    ones asked for (``shard_size=None`` takes the recorded size)."""
    n = len(paths)
    batch_size = int(batch_size)
    sorted_paths = all(paths[i] <= paths[i + 1] for i in range(n - 1))
    if shard_size is None and previous is not None:
        size = int(previous.get("shard_size", 0)) or default_shard_size(n, batch_size)
    else:
        size = round_to_batches(shard_size, batch_size) if shard_size else default_shard_size(n, batch_size)
    plan = ShardPlan(size, batch_size, settings, digest, sorted_paths)
    if previous is not None and _compatible(previous, plan):
        kept = _keep_boundaries(paths, previous["shards"], sorted_paths)
        if kept is not None:
            plan.shards = kept
            return plan
    plan.shards = [Shard(f"{i:05d}.h5", paths[a], a, min(n, a + size)) for i, a in enumerate(range(0, n, size))]
    return plan


def _compatible(previous: dict, plan: ShardPlan) -> bool:
    return (int(previous.get("shard_size", -1)) == plan.shard_size and int(previous.get("batch_size", -1)) == plan.batch_size
            and previous.get("settings") == plan.settings and bool(previous.get("sorted_paths")) == plan.sorted_paths
            and bool(previous.get("shards")))


def _keep_boundaries(paths: list[str], recorded: list[dict], sorted_paths: bool) -> list[Shard] | None:
    """The recorded shards over the current ``paths``; shards left empty are dropped. None: the
    recorded boundaries do not fit an unsorted table any more."""
    n = len(paths)
    if sorted_paths:
        starts = [0] + [bisect.bisect_left(paths, r["first"]) for r in recorded[1:]]
    else:
        where = {p: i for i, p in enumerate(paths)}
        starts = [0] + [where.get(r["first"], -1) for r in recorded[1:]]
        if any(s < 0 for s in starts) or starts != sorted(starts):
            return None
    stops = starts[1:] + [n]
    shards = [Shard(r["file"], r["first"], a, b) for r, a, b in zip(recorded, starts, stops) if b > a]
    return shards or None
