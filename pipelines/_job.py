"""``run_job``: one declarative study from images to a report.

The job is a list of stages (:func:`featx.pipelines.stages.job_stages`), each declaring the names
it reads from the job's context and the names it adds; the job validates the spec, takes the output
folder's lock, connects the cluster, checks the list's order and runs it:

1. validate (here) - :func:`load_spec` (cheap checks) then :func:`check_backbones` (builds every
   backbone once and dry-runs its layers); all problems are raised at once as ``SpecError``.
2. extract - one HDF5 cache per (source, backbone), named by a key of everything that shapes the
   features (``stages._keys``); featx.extract resumes, updates changed images and does no model
   work on a complete cache.
3. load - the caches' layers as feature sets, copies and near-duplicates handled per ``cv.dedupe``.
4. cv - every source x backbone x layer x head on the same seeded folds; each result is stored in
   ``<output>/cv-cache`` under a key of (features digest, head, grid, PCA, CV settings, library
   versions), so rerunning after adding a head fits only that head.
5. audit, explore, learning curve, PCA, LogME and the [finetune] transfer study, cached the same way.
6. report - ``results.json`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from featx.common.cluster import connect, describe, require_distributed, tls
from featx.common.files import remove_stale_tmp_in
from featx.common.stages import Stages
from featx.common.files import FileLock
from featx.pipelines._spec import Spec, check_backbones, load_spec
from featx.pipelines.stages._plan import job_stages
from featx.pipelines.stages._pipeline import run_stages
from featx.pipelines.stages._result import JobResult
from featx.pipelines.stages._stages import ResultCache


def run_job(spec, *, base_dir: str | None = None, output: str | None = None, jobs: int | None = None,
            progress: bool = True, command: str | None = None, cluster=None, scheduler_file: str | None = None,
            tls_files: Mapping | None = None) -> JobResult:
    """Run the study described by ``spec`` (a TOML path, a dict or a :class:`Spec`).

    ``output``, ``jobs`` and ``cluster`` (``'local:N'``, a scheduler address or a
    ``distributed.Client``) override the spec's; ``command`` is recorded in the report (default:
    a note that the job ran from Python); ``scheduler_file`` names the cluster instead, and
    ``tls_files`` (``{ca_file, cert, key}``) replaces the spec's ``tls_*`` keys. Raises :class:`SpecError` listing every problem of the
    spec before anything is computed.
    """
    stages = Stages(progress)
    with stages.run("validate", "checking the spec"):
        spec = load_spec(spec, base_dir=base_dir)
        if output is not None:
            spec = spec.replace(output=os.path.abspath(output))
        if jobs is not None:
            spec = spec.replace(classify=dataclasses.replace(spec.classify, jobs=int(jobs)))
        cluster = spec.cluster if cluster is None and scheduler_file is None else cluster
        if not tls_files or not any(tls_files.values()):
            tls_files = {"ca_file": spec.tls_ca_file, "cert": spec.tls_cert, "key": spec.tls_key}
        if cluster is not None or scheduler_file is not None:
            require_distributed()  # a missing dask fails before any model is built
        resolved = check_backbones(spec)
        stages.say("  " + "; ".join(f"{name}: {', '.join(rb.label(l) for l in rb.layers)}"
                                    for name, rb in resolved.items()))
    # one job per output folder: a second run on it fails fast; a lock left by a killed run is
    # released by the kernel and taken over (see featx.common.files.FileLock); one cluster for the
    # whole job (a 'local:N' one is started once, and closed at the end)
    with FileLock(spec.output), tls(**tls_files), connect(cluster, scheduler_file=scheduler_file) as client:
        if client is not None:
            stages.say(f"  on a Dask cluster: {describe(client)}")
        return _run_stages(spec, resolved, stages, progress, command, client)


def _run_stages(spec: Spec, resolved, stages: Stages, progress: bool, command: str | None, client=None) -> JobResult:
    """Run :func:`featx.pipelines.stages.job_stages` on a context of what this job was given."""
    os.makedirs(spec.cache_folder, exist_ok=True)
    cv_cache = ResultCache(os.path.join(spec.output, "cv-cache"))
    # temporary files a killed run left (results.json, report.html, plots, cv-cache entries); this
    # process holds the output folder's lock, and the extraction caches clean up after themselves
    for folder in (spec.output, cv_cache.folder, os.path.join(spec.output, "plots")):
        remove_stale_tmp_in(folder)
    ctx = {"spec": spec, "resolved": resolved, "client": client, "progress": progress, "say": stages.say,
           "runner": stages, "command": command or "featx.pipelines.run_job(...) from Python", "cv_cache": cv_cache,
           "notes": list(spec.notes), "caught": []}
    result = run_stages(job_stages(), ctx, stages, spec)["result"]
    from featx.pipelines.report._report import write_results_json

    stages.timings["total"] = stages.total()
    write_results_json(result, resolved, command=ctx["command"])  # again, with the final timings
    return result


__all__ = ["JobResult", "run_job"]
