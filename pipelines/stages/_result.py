"""What ``featx run`` returns: :class:`JobResult`, made by the report stage from the job's context."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class JobResult:
    """What :func:`run_job` produced.

    ``records`` has one tidy dict per source x backbone x layer x head (metrics mean/std/CI,
    chosen hyperparameters, fit times, ``cached``); ``best`` maps each source to its best
    record by ``spec.metrics.main``; ``comparisons`` maps each source to its
    :class:`featx.classify.Comparison`; ``extractions`` has one dict per (source, backbone)
    cache (``extracted`` is 0 when the cache was reused); ``timings`` is seconds per stage.
    """

    spec: object  # featx.pipelines.Spec
    output: str
    report_path: str
    results_path: str
    records: tuple
    best: Mapping
    comparisons: Mapping
    extractions: tuple
    timings: Mapping
    cv_computed: int
    cv_cached: int
    learning_curves: Mapping = dataclasses.field(default_factory=dict)
    pca: Mapping = dataclasses.field(default_factory=dict)
    datasets: Mapping = dataclasses.field(default_factory=dict)
    notes: tuple = ()
    audits: Mapping = dataclasses.field(default_factory=dict)
    transfer: Mapping = dataclasses.field(default_factory=dict)  # the [finetune] study (pipelines._transfer_stage)
    logme: Mapping = dataclasses.field(default_factory=dict)  # source -> LogMERanking (pipelines._report_logme)

    @property
    def best_record(self) -> dict:
        """The best record of the first source."""
        return self.best[self.spec.sources[0].name]

    def summary_lines(self) -> list[str]:
        main = self.spec.metrics.main
        lines = []
        for source, rec in self.best.items():
            lines.append(
                f"best [{source}]: {rec['backbone']} / {rec['layer']} / {rec['head']}  {main} "
                f"{_fmt(rec[f'{main}_mean'])} +/- {_fmt(rec[f'{main}_std'])} "
                f"(95% CI {_fmt(rec[f'{main}_ci95_low'])}-{_fmt(rec[f'{main}_ci95_high'])})"
            )
        from featx.classify.transfer import describe_transfer

        for source, verdict in (self.transfer.get("verdicts") or {}).items():
            if verdict.get("winner"):  # the [finetune] study's winner on the held-out rows
                w = verdict["winner"]
                lines.append(f"transfer [{source}]: {describe_transfer(w)} wins, held-out {main} {_fmt(w[f'{main}_mean'])} "
                             f"(95% CI {_fmt(w[f'{main}_ci95_low'])}-{_fmt(w[f'{main}_ci95_high'])})")
        lines.append(f"report: {self.report_path}")
        return lines


def _fmt(v, digits=3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"
