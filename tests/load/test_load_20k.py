"""Issue 7 load test: 20,000 small images through a real ``featx extract`` with a worker pool.

While the job runs: throughput stays steady (no slowdown as the cache fills), the memory of the
whole process tree stays flat, and a separate reader process reads the cache with featx's own
reader; afterwards every row is done, none lost, and what the reader saw mid-job equals the final
cache bit for bit. Slow (a few minutes on 2 cores): run with ``make soak`` or
``pytest -m slow -p no:xdist tests/load -rA``. The one-line summary is printed (``-rA``/``-s``).
"""

import math
import os

import pytest

from helpers.load_harness import check_final, check_reads, quarter_stats, run_load, save_result, steady_bound, summary_line

N = 20_000


@pytest.mark.slow
def test_20k_images_steady_throughput_flat_memory_readable_while_written(tmp_path, record_property):
    run = run_load(tmp_path, N, batch_size=64, workers=2, sample_every=0.25, read_every=3.0, timeout=900)
    final = check_final(run)
    q = quarter_stats(run)
    reads = check_reads(run, min_mid_reads=10)
    line = summary_line("load-20k", run, q, reads, final)
    print(line)
    record_property("load_summary", line)
    save_result(os.environ.get("FEATX_LOAD_RESULT") or tmp_path / "load_result.json", line, run, q, reads)

    rates, rss, main = q["img_s"], q["rss_tree_mb"], q["rss_main_mb"]
    assert all(math.isfinite(r) and r > 0 for r in rates), line
    # steady: the later quarters run at least 0.7x the second quarter's rate (the first holds
    # warm-up); the bound drops only by the cores other processes measurably took (shared machine)
    for k in (2, 3):
        bound = steady_bound(q, k, 0.7)
        assert rates[k] >= bound, f"throughput dropped as the cache grew: Q{k + 1} {rates[k]:.1f} < {bound:.1f} img/s: {line}"
    # flat: the last quarter's peak RSS (featx + its DataLoader workers) within 12% of the
    # second quarter's, and the main process's alone too
    assert q["procs_max"] >= 3, f"expected featx plus 2 DataLoader workers: {line}"
    assert rss[3] <= 1.12 * rss[1] and main[3] <= 1.12 * main[1], f"memory grew during the job: {line}"
