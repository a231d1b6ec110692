"""Extraction on a Dask cluster: ``extract(..., cluster=...)`` plans shards of the source table
(:mod:`._shards`), runs the ordinary single-process :func:`extract` on each shard as one task
(``Client.map``), and joins the finished shards into ``OUT.h5`` (:mod:`._join`).

What runs where: the driver (the process that called ``extract``) lists the source, writes the
plan, submits the tasks, shows progress and writes the joined file; it holds the lock on
``OUT.h5``, so a second driver on the same output fails at once. Each task runs on a worker and
writes one shard cache ``OUT.h5.shards/NNNNN.h5`` with the resumable writer (its own lock, done
mask, complete flag and failures table). So every worker must see the images and the output folder
at the same paths as the driver (a shared filesystem); a worker that cannot is named in one line.

Failures: a worker killed mid-shard loses its task to the scheduler, which runs it again on
another worker (up to ``distributed.scheduler.allowed-failures`` times); the retry resumes the
shard from its done mask (the dead worker's lock died with it). A driver killed mid-job leaves
complete and partial shards: the same command skips the complete ones (they are not even opened
for writing) and resumes the partial ones.

GPU workers: start one worker per GPU (``dask worker ... --nthreads 1 --resources GPU=1`` with
``CUDA_VISIBLE_DEVICES`` set per worker, or ``dask-cuda``); tasks ask for ``GPU=1`` when
``device`` names CUDA, so no two shards share a GPU. Workers must be non-daemonic
(``distributed.worker.daemon: false``, as ``local:N`` starts them) for DataLoader decoding
processes (``--workers N``) to start inside a task.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass

from featx.common import cluster as cl
from featx.extract.cache import _join
from featx.extract.cluster import _shards
from featx.extract.cache import _store
from featx.extract._engine import ExtractionSummary
from featx.extract._errors import CacheError, CacheMismatchError, ClusterExtractError, ExtractError, ExtractionFailedError
from featx.extract.cache._lock import FileLock
from featx.extract.images._sources import SourceTable, open_source
from featx.common.messages import first_line

# the extract() settings a plan records: features made with others are never mixed
PLAN_SETTINGS = ("model", "weights", "layers", "pool", "dtype", "tta", "runtime", "precision", "jpeg_draft", "max_pixels")
_SHARD_FILE = re.compile(r"\d{5}\.h5")


@dataclass
class ClusterExtractionSummary(ExtractionSummary):
    """An :class:`ExtractionSummary` of a job on a cluster, with its shards and workers."""

    shards: int = 0
    shards_run: int = 0  # shards whose task had rows to compute (the others were unchanged)
    shards_resumed: int = 0  # shards a task found partly done (a killed driver or worker)
    workers: int = 0
    workers_lost: int = 0
    retried: int = 0  # tasks the scheduler ran again after their worker died
    cluster: str = ""
    shards_repaired: int = 0  # damaged shard files (unreadable, truncated) found and recomputed

    def line(self) -> str:
        repaired = f", {self.shards_repaired} damaged and recomputed" if self.shards_repaired else ""
        return (f"{super().line()}; {self.shards} shard(s): {self.shards_run} run, {self.shards - self.shards_run} unchanged, "
                f"{self.shards_resumed} resumed{repaired}, on {self.cluster}; {self.workers_lost} worker(s) lost, "
                f"{self.retried} task(s) retried")


def extract_on_cluster(source, output: str, *, cluster=None, scheduler_file=None, shard_size=None, overwrite=False,
                       strict=False, progress=True, backbone=None, **settings) -> ClusterExtractionSummary:
    """:func:`featx.extract.extract` on a cluster (see the module docstring); ``settings`` are
    extract()'s other keyword arguments (model, weights, layers, ... batch_size, workers, device)."""
    t0 = time.perf_counter()
    output = os.path.abspath(os.fspath(output))
    _shards.SHARD_SIZE.check(shard_size)
    batch_size = int(settings.get("batch_size", 64))
    if batch_size < 1:
        raise ExtractError(f"batch size must be at least 1; got {batch_size}")
    table = open_source(source)
    wanted = _plan_settings(settings, backbone)
    on_cluster = cl.wanted(cluster, scheduler_file)  # else: a joined cache rerun in this process
    with FileLock(output):  # the joined file's lock: a second driver on this output fails here
        if on_cluster:
            try:  # before anything is written: without dask the output folder is left as it was
                cl.require_distributed()
            except cl.ClusterError as exc:
                raise ClusterExtractError(str(exc)) from None
        plan = _plan(output, table, wanted, batch_size, shard_size, overwrite)  # checked before a cluster starts
        with _connect(cluster, scheduler_file) as client:
            repaired = [] if overwrite else remove_damaged_shards(output, plan, progress)
            _record_plan(output, plan, overwrite)
            if client is not None:
                _check_visible(client, table.root, _shards.shards_dir(output),
                               files=tuple(table.absolute(i) for i in sorted({0, len(table) - 1}) if len(table)))
            results, watch = _run_shards(client, plan, table, output, settings, backbone, progress)
            where = cl.describe(client) if client is not None else "this process"
            n_workers = len(client.scheduler_info().get("workers", {})) if client is not None else 1
        complete = all(r["complete"] for r in results)
        if complete:
            _join_if_changed(output, plan, table)
    summary = ClusterExtractionSummary(
        output, len(table), sum(r["extracted"] for r in results), sum(r["reused"] for r in results),
        sum(r["failed"] for r in results), sum(r["pending"] for r in results), time.perf_counter() - t0,
        _joined_names(r["device"] for r in results), batch_size, complete, _joined_names(r["runtime"] for r in results),
        shards=len(plan.shards), shards_run=sum(1 for r in results if not r["unchanged"]),
        shards_resumed=sum(1 for r in results if r["resumed"]), workers=n_workers, workers_lost=watch.lost,
        retried=watch.retried, cluster=where, shards_repaired=len(repaired),
    )
    if table and summary.failed == len(table):
        raise ExtractionFailedError(f"none of the {len(table)} images could be decoded (see 'featx info {output}'); check the source")
    if strict and summary.failed:
        raise ExtractionFailedError(f"{summary.failed} image(s) failed and --strict was given; see 'featx info {output}' for the reasons")
    return summary


def _joined_names(values) -> str:
    names = sorted({v for v in values if v})
    return ",".join(names) or "-"


def _plan_settings(settings: dict, backbone) -> dict:
    wanted = {k: settings.get(k) for k in PLAN_SETTINGS}
    if isinstance(wanted["layers"], (list, tuple)):
        wanted["layers"] = list(wanted["layers"])
    if backbone is not None:  # a backbone passed in: its provenance says what the features are
        wanted["backbone"] = json.loads(json.dumps(backbone.provenance(), default=str))
    return wanted


def _plan(output: str, table: SourceTable, wanted: dict, batch_size: int, shard_size, overwrite: bool) -> _shards.ShardPlan:
    """Plan the shards, keeping the recorded plan's boundaries where it still holds."""
    previous = _shards.read_plan(output)
    if previous is None and os.path.exists(output) and _join.recorded_shards(output) is None and not overwrite:
        raise CacheError(f"{output!r} exists and was not written by an extraction on a cluster; write to another path "
                         "or pass --overwrite to replace it")
    if previous is not None and previous.get("settings") != wanted and not overwrite:
        old = previous.get("settings") or {}
        diff = "; ".join(f"{k}: {old.get(k)!r} recorded, {wanted.get(k)!r} asked" for k in wanted if old.get(k) != wanted.get(k))
        raise CacheMismatchError(f"{output!r} was extracted on a cluster with other settings ({diff}); write to "
                                 "another path or pass --overwrite to replace it (features are never mixed)")
    digest = _shards.table_digest(table.paths, table.labels, table.groups, table.splits, table.class_names)
    if overwrite and shard_size is None and previous is not None:  # new shards, of the size recorded
        shard_size = int(previous.get("shard_size") or 0) or None
    return _shards.plan_shards(list(table.paths), digest, batch_size=batch_size, settings=wanted, shard_size=shard_size,
                               previous=None if overwrite else previous)


def joined_output(output: str) -> bool:
    """Whether ``output`` is (or is to become) a join of cluster shards: a plan beside it, and the
    file itself missing, unreadable or a joined cache (not one an ordinary run or ``featx
    consolidate`` wrote). Its rerun without a cluster runs the same shards in this process."""
    output = os.fspath(output)
    if _shards.read_plan(output) is None:
        return False
    if not os.path.exists(output) or _join.recorded_shards(output) is not None:
        return True
    try:
        with _store.open_cache(output) as f:
            f["done"].shape
    except (CacheError, OSError, KeyError, ValueError):
        return True
    return False


def _shard_damage(path: str, record: dict | None) -> str:
    """Why the shard file at ``path`` cannot be resumed ('' when it can): unreadable, or - when its
    size or checksum differs from what the join recorded - a dataset that cannot be read."""
    try:
        with _store.open_cache(path) as f:
            now = _join.shard_checksum(f)
            if record is None:
                return ""
            if os.path.getsize(path) == record.get("size") and now == record.get("checksum"):
                # no featx write changes a shard's bytes without its checksum (created, done, hashes)
                if record.get("bytes") and _join.file_sha256(path) != record["bytes"]:
                    return "its bytes changed since the join while its checksum did not: corrupted"
                return ""
            for name in _join.dataset_names(f):  # changed since the join: every byte it holds must read
                ds = f[name]
                for start in range(0, ds.shape[0], 65536):
                    ds[start:start + 65536]
    except (CacheError, OSError, KeyError, ValueError, RuntimeError) as exc:
        return first_line(exc)
    return ""


def remove_damaged_shards(output: str, plan: _shards.ShardPlan, progress: bool = True) -> list[str]:
    """Delete the planned shard files that are damaged (truncated, unreadable: found by the sizes
    and checksums the join and the plan recorded, then by reading them), so their tasks recompute
    them from the images; every other shard is left as it is. One line each on stderr."""
    import sys

    folder = _shards.shards_dir(output)
    records = {os.path.basename(r["file"]): r for r in (_recorded(output) or [])}
    removed = []
    for shard in plan.shards:
        path = os.path.join(folder, shard.file)
        if not os.path.exists(path):
            continue
        problem = _shard_damage(path, records.get(shard.file))
        if problem:
            os.unlink(path)
            removed.append(path)
            print(f"shard {path} is damaged ({problem[:160]}); recomputing its {shard.rows} rows from the images",
                  file=sys.stderr, flush=True)
    return removed


def _recorded(output: str) -> list[dict] | None:
    """The shard records of the last join: the joined file's, else the copy kept in the plan."""
    records = _join.recorded_shards(output)
    if records is None:
        records = (_shards.read_plan(output) or {}).get("joined")
    return records if isinstance(records, list) else None


def _record_plan(output: str, plan: _shards.ShardPlan, overwrite: bool) -> None:
    """Write the plan, and remove the shard files it has no rows for."""
    previous = None if overwrite else _recorded(output)
    _shards.write_plan(output, plan, joined=previous)
    folder = _shards.shards_dir(output)
    # --overwrite: every shard file goes now, so the tasks themselves never overwrite (a task retried
    # after its worker died resumes its shard); otherwise only shards no row falls into any more
    keep = set() if overwrite else {s.file for s in plan.shards}
    for name in os.listdir(folder):
        if _SHARD_FILE.fullmatch(name) and name not in keep:
            os.unlink(os.path.join(folder, name))


@contextlib.contextmanager
def _connect(cluster, scheduler_file):
    """:func:`featx.common.cluster.connect`, its errors as one-line extraction errors."""
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(cl.connect(cluster, scheduler_file=scheduler_file))
        except cl.ClusterError as exc:
            raise ClusterExtractError(str(exc)) from None
        yield client


def _missing_path(*paths: str, files: tuple = ()) -> str:
    """The first of the folders ``paths`` and then of the image ``files`` this machine cannot see
    ('' when it sees them all): an empty folder mounted over the images is caught by its files."""
    return next((p for p in paths if not os.path.isdir(p)), "") or next((p for p in files if not os.path.isfile(p)), "")


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return f"{get_worker().address} ({socket.gethostname()})"
    except (ImportError, ValueError):
        return socket.gethostname()


def _not_visible(worker: str, path: str) -> ClusterExtractError:
    return ClusterExtractError(f"worker {worker} cannot see {path!r}; every worker must see the images and the output "
                               "folder at the same paths as the driver (a shared filesystem mounted at the same place)")


def _check_visible(client, *paths: str, files: tuple = ()) -> None:
    for worker, missing in sorted(client.run(_missing_path, *paths, files=tuple(files)).items()):
        if missing:
            raise _not_visible(worker, missing)


def _gpu_resources(client, device: str) -> dict | None:
    """``{"GPU": 1}`` for a CUDA job on workers that declare a GPU resource (one shard per GPU at
    a time); None otherwise (each worker then sees its own GPU through CUDA_VISIBLE_DEVICES)."""
    if not device.startswith("cuda"):
        return None
    workers = client.scheduler_info().get("workers", {}).values()
    return {"GPU": 1} if any("GPU" in (w.get("resources") or {}) for w in workers) else None


def _run_shards(client, plan, table, output, settings, backbone, progress):
    """Submit one task per shard, follow them with a progress bar; returns their results in plan
    order and the :class:`featx.common.cluster.WorkerWatch` that counted lost workers."""
    import distributed

    from featx.common.progress import progress_bar

    if client is None:
        return _run_here(plan, table, output, settings, backbone, progress)
    folder = _shards.shards_dir(output)
    jobs = [{"path": os.path.join(folder, s.file), "table": _sub_table(table, s.start, s.stop), "overwrite": False,
             "settings": dict(settings)} for s in plan.shards]
    shared = client.scatter(backbone, broadcast=True, hash=False) if backbone is not None else None
    resources = _gpu_resources(client, str(settings.get("device") or "auto"))
    token = uuid.uuid4().hex[:8]
    keys = [f"featx-shard-{s.file[:-3]}-{token}" for s in plan.shards]
    futures = client.map(shard_task, jobs, [shared] * len(jobs), key=keys, pure=False, resources=resources)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[dict | None] = [None] * len(futures)
    watch = cl.WorkerWatch(client, keys)
    bar = progress_bar(len(futures), "extract shards", progress, unit="shard")
    t0, rows_done = time.perf_counter(), 0
    pending = set(futures)
    try:
        while pending:
            try:
                done, pending = distributed.wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for future in done:
                i = index[future.key]
                results[i] = _result(future, plan.shards[i], jobs[i]["path"])
                rows_done += results[i]["extracted"]
                bar.update(1)
            watch.poll()
            rate = rows_done / max(1e-9, time.perf_counter() - t0)
            bar.set_postfix_str(f"{rate:.1f} rows/s, {watch.lost} worker(s) lost, {watch.retried} retried", refresh=True)
        watch.poll()
    except BaseException:
        client.cancel(list(pending))
        raise
    finally:
        bar.close()
    return results, watch


class _NoWatch:
    lost = retried = 0


def _run_here(plan, table, output, settings, backbone, progress):
    """The shards run one after the other in this process (a joined cache rerun without a cluster)."""
    from featx.common.progress import progress_bar

    folder = _shards.shards_dir(output)
    results = []
    bar = progress_bar(len(plan.shards), "extract shards", progress, unit="shard")
    try:
        for shard in plan.shards:
            path = os.path.join(folder, shard.file)
            job = {"path": path, "table": _sub_table(table, shard.start, shard.stop), "overwrite": False,
                   "settings": dict(settings)}
            results.append(_checked_result(shard_task(job, backbone), shard, path))
            bar.update(1)
    finally:
        bar.close()
    return results, _NoWatch()


def _checked_result(record: dict, shard, path: str) -> dict:
    if record.get("error"):
        raise ClusterExtractError(f"shard {path!r} (rows {shard.start}-{shard.stop - 1}) failed: {record['error']}")
    return record


def _result(future, shard, path: str) -> dict:
    try:
        return _checked_result(future.result(), shard, path)
    except ExtractError:
        raise
    except Exception as exc:  # noqa: BLE001 - a task's failure, named by its shard
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            raise ClusterExtractError(f"the workers running shard {path!r} (rows {shard.start}-{shard.stop - 1}) died too "
                                      "often (distributed.scheduler.allowed-failures); its finished rows are kept - check "
                                      "the workers' memory and logs, then rerun the same command to resume") from None
        raise ClusterExtractError(f"shard {path!r} failed on a worker ({type(exc).__name__}: {first_line(exc, 200)}); rerun the "
                                  "same command to resume") from None


def _sub_table(table: SourceTable, start: int, stop: int) -> SourceTable:
    """Rows ``start:stop`` of ``table``, with the whole table's classes (labels keep their indices)."""
    return SourceTable(table.root, table.kind, table.paths[start:stop], table.labels[start:stop], list(table.class_names),
                       groups=table.groups[start:stop], splits=table.splits[start:stop])


# -- on a worker ------------------------------------------------------------------------------

_BACKBONES: dict = {}  # (model, weights) -> Backbone, built once per worker process


def shard_task(job: dict, backbone=None) -> dict:
    """:func:`run_shard` as the cluster runs it: a failure comes back as ``{"error": one line}``
    (never a traceback in a worker's log or on the driver's terminal). A shard that turns out
    damaged while it is resumed (a dataset that cannot be read) is deleted and computed afresh."""
    for attempt in (0, 1):
        try:
            return run_shard(job, backbone)
        except CacheError as exc:
            from featx.extract._errors import CacheDamagedError, CacheLockedError

            if attempt or isinstance(exc, CacheLockedError) or not isinstance(exc, CacheDamagedError):
                return {"error": first_line(exc, None)}
            with contextlib.suppress(OSError):
                os.unlink(job["path"])
        except ExtractError as exc:
            return {"error": first_line(exc, None)}
        except Exception as exc:  # noqa: BLE001 - one line naming the cause, for the driver
            return {"error": f"{type(exc).__name__}: {first_line(exc, 300)}"}
    return {"error": "unreachable"}




def run_shard(job: dict, backbone=None) -> dict:
    """The task: the ordinary :func:`extract` of one shard into its own cache (resumed from its
    done mask). Returns the shard's summary as plain data, with ``unchanged`` (nothing to compute:
    the file was not opened for writing) and ``resumed`` (some rows were done, not all)."""
    from featx.extract._engine import extract_local as extract

    table, path = job["table"], job["path"]
    missing = _missing_path(table.root, os.path.dirname(path))
    if missing:
        raise _not_visible(_worker_name(), missing)
    state = None if job["overwrite"] else _shard_state(table, path, job["settings"])
    if state is not None and state["unchanged"]:
        return state
    settings = dict(job["settings"])
    if backbone is None:
        backbone = _worker_backbone(settings.pop("model", None), settings.pop("weights", None))
    resumed = bool(state and state["done"])
    try:
        summary = extract(table, path, overwrite=job["overwrite"], strict=False, progress=False, backbone=backbone,
                          **settings)
        record = {**summary.as_record(), "unchanged": False}
    except ExtractionFailedError:  # every image of this shard failed: the driver judges the whole job
        record = {**_file_state(path), "unchanged": False}
    record.update(resumed=resumed, worker=_worker_name(), pid=os.getpid())
    return record


def _worker_backbone(model, weights):
    """The backbone ``model`` with ``weights``, built once per worker process."""
    from featx.extract.models._backbones import build_backbone
    from featx.extract.runtime._compute import one_thread
    from featx.extract.models._registry import DEFAULT_MODEL

    key = (model or DEFAULT_MODEL, weights or "default")
    if key not in _BACKBONES:
        with one_thread():  # small init ops: see one_thread
            _BACKBONES[key] = build_backbone(*key)
    return _BACKBONES[key]


def _file_state(path: str) -> dict:
    with _store.open_cache(path) as f:
        done = f["done"][:].astype(bool)
        failed = int(sum(1 for r in f["failure"][:] if r))
        spec = _store.read_spec(f)
        complete = bool(f.attrs.get("complete", False))
    return {"cache": path, "rows": int(len(done)), "extracted": 0, "reused": int(done.sum()) - failed, "failed": failed,
            "pending": int((~done).sum()), "complete": complete, "device": "",
            "runtime": (spec.get("runtime") or {}).get("name", "") if isinstance(spec.get("runtime"), dict) else "",
            "done": int(done.sum())}


def _recorded_as_asked(spec: dict, settings: dict | None) -> bool:
    """Whether a shard's recorded spec says what ``settings`` ask for, as far as that is known
    without a model (model, layers, pooling, dtype, tta, runtime, JPEG draft decoding). False sends
    the shard through the ordinary extract(), which reuses it when it does match after all and
    refuses, in one line, to mix features made otherwise."""
    if settings is None:
        return True
    runtime = spec.get("runtime") if isinstance(spec.get("runtime"), dict) else {}
    layers = settings.get("layers")
    if isinstance(layers, str):
        layers = [x.strip() for x in layers.split(",") if x.strip()]
    checks = [("model", spec.get("model")), ("pool", spec.get("pooling")), ("dtype", spec.get("dtype")),
              ("tta", spec.get("tta")), ("jpeg_draft", (spec.get("decoding") or {}).get("jpeg_draft"))]
    if settings.get("runtime") not in (None, "auto"):
        checks.append(("runtime", runtime.get("name")))
    if layers:
        checks.append(("layers", spec.get("layers")))
    wanted = dict(settings, layers=layers)
    return all(wanted.get(k) is None or recorded is None or wanted.get(k) == recorded for k, recorded in checks)


def _shard_state(table: SourceTable, path: str, settings: dict | None = None) -> dict | None:
    """The shard file's state when it exists; ``unchanged`` when it is complete, was made with the
    ``settings`` asked for (:func:`_recorded_as_asked`) and holds exactly ``table``'s rows with the
    files' current sizes and times (no model needed to answer)."""
    from featx.extract.cache._planning import same_rows, source_rows

    if not os.path.exists(path):
        return None
    try:
        state = _file_state(path)
        with _store.open_cache(path) as f:
            same = (state["complete"] and not state["pending"] and _recorded_as_asked(_store.read_spec(f), settings)
                    and same_rows(source_rows(table), _store.read_rows(f), table.class_names))
    except (CacheError, OSError, KeyError, ValueError):
        return None  # damaged: extract() says so, or rebuilds it
    state.update(unchanged=bool(same), resumed=False, worker=_worker_name(), pid=os.getpid())
    if same:
        state["reused"] = state["done"] - state["failed"]
    return state


def _join_if_changed(output: str, plan, table: SourceTable) -> None:
    """Join the shards into ``output`` unless it already joins exactly these shards as they are."""
    base = os.path.dirname(output)
    paths = [os.path.join(_shards.shards_dir(output), s.file) for s in plan.shards]
    records = [_join.shard_record(p, base) for p in paths]
    if _join.recorded_shards(output) == records:
        return
    _join.join(output, paths, table.describe(), records)
    _shards.write_plan(output, plan, joined=records)


