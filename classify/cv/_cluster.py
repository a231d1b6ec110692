"""Cross-validation tasks on a Dask cluster, through joblib's dask backend.

``cluster=`` of the CV functions is a :data:`featx.common.cluster.CLUSTER` value (``local:N``,
a scheduler address) or a ``distributed.Client``. Inside :func:`cluster_pool`, the one joblib
``Parallel`` of :func:`featx.classify.cv._cv.run_jobs` submits its fold tasks to the cluster:

- the feature arrays (and labels, groups) are scattered ONCE, broadcast to every worker, before
  the first task; a task refers to them by key instead of carrying them;
- each fold task runs its inner search with ``n_jobs=-1``: joblib's dask backend is active
  inside a task, so the search's (grid point x inner fold) fits become cluster tasks too, and
  the waiting fold task secedes from its worker's thread pool meanwhile (no deadlock on
  one-thread workers);
- the results are the same as in one process: every fit is seeded as it is locally, folds and
  candidates are put back in their order, and workers run BLAS on one thread (Dask's default
  ``OMP_NUM_THREADS=1``; the fold tasks limit it as they do locally).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time


@dataclasses.dataclass
class ClusterRun:
    """Where a CV ran and how much of it: ``where`` (:func:`featx.common.cluster.describe`),
    ``tasks`` (fold tasks), ``configurations``, ``scattered`` (arrays sent once, and their bytes)."""

    where: str
    tasks: int = 0
    configurations: int = 0
    scattered: int = 0
    scattered_bytes: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"{self.tasks} fold task(s) of {self.configurations} configuration(s) on {self.where}, "
                f"{self.scattered} array(s) ({self.scattered_bytes / 1e6:.1f} MB) scattered once, {self.seconds:.1f} s")


def shared_arrays(arrays) -> list:
    """The distinct arrays (by identity) of ``arrays``, ``None`` left out: what is scattered."""
    seen, out = set(), []
    for a in arrays:
        if a is not None and id(a) not in seen:
            seen.add(id(a))
            out.append(a)
    return out


@contextlib.contextmanager
def cluster_pool(cluster, shared=(), *, report=None):
    """Inside, joblib's ``Parallel`` runs on ``cluster`` with ``shared`` scattered once (the
    yielded :class:`ClusterRun`, whose counts the caller fills in); with no cluster (``None``)
    nothing changes and ``None`` is yielded. ``report(run)`` is called at the end of a cluster
    run (a summary line: ``run.line()``)."""
    from featx.common.cluster import connect, describe

    with connect(cluster) as client:
        if client is None:
            yield None
            return
        from joblib import parallel_config

        shared = shared_arrays(shared)
        run = ClusterRun(describe(client), scattered=len(shared), scattered_bytes=sum(int(a.nbytes) for a in shared))
        t0 = time.perf_counter()
        # scatter= broadcasts the arrays to every worker when the backend is made, here; a task
        # argument that IS one of them (same object) is sent as its key
        with parallel_config(backend="dask", client=client, scatter=shared):
            yield run
        run.seconds = time.perf_counter() - t0
        if report is not None:
            report(run)
