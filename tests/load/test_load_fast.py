"""Fast CI variant of the issue 7 load test (tests/load/test_load_20k.py): 800 small images
through a real ``featx extract`` with 2 DataLoader workers, watched the same way - throughput and
process-tree memory sampled while it runs (relaxed bounds: CI machines are noisy and the job is
short), a separate reader process reading the cache with featx's own reader mid-job, and the
finished cache compared bit for bit with what that reader saw."""

import math

from helpers.load_harness import check_final, check_reads, quarter_stats, run_load, save_result, steady_bound, summary_line

N = 800


def test_load_fast_readable_while_written_and_nothing_lost(tmp_path, record_property):
    run = run_load(tmp_path, N, batch_size=16, workers=2, sample_every=0.1, read_every=0.1, timeout=180, wait_reader=False)
    final = check_final(run)
    q = quarter_stats(run)
    reads = check_reads(run, min_mid_reads=3)
    line = summary_line("load-fast", run, q, reads, final)
    print(line)
    record_property("load_summary", line)
    save_result(tmp_path / "load_result.json", line, run, q, reads)
    rates, rss = q["img_s"], q["rss_tree_mb"]
    assert all(math.isfinite(r) and r > 0 for r in rates), line
    bound = steady_bound(q, 3, 0.35)
    assert rates[3] >= bound, f"throughput collapsed as the cache grew: Q4 {rates[3]:.1f} < {bound:.1f} img/s: {line}"
    assert q["procs_max"] >= 3, f"expected featx plus 2 DataLoader workers: {line}"
    assert rss[3] <= 1.3 * max(rss[0], rss[1]), f"memory grew during the job: {line}"
