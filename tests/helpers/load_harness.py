"""The load test harness (issue 7, "Reliability"): many small real images, a real ``featx extract``
subprocess with a worker pool, and three things watched while it runs:

* throughput: rows flagged ``done`` against time, read from a separate h5py handle
  (``h5py.File(path, "r", locking=False)``, reopened for every sample so nothing is cached);
* memory: VmRSS of the whole process tree (featx and its DataLoader workers) from /proc;
* read-while-writing: a separate reader process (``load_reader.py``) reading the cache with
  featx's own ``cache_info`` / ``read_cache(allow_incomplete=True)`` during the job.

Then the finished cache is checked (every row done, none lost or failed, hashes equal the image
files' sha256) and every mid-job read is compared with the final cache bit for bit.
No mocks: real files, real processes.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

import h5py
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
READER = os.path.join(HERE, "load_reader.py")
# timm's test_efficientnet: a real (tiny) EfficientNet at 160x160 input, ~2x faster on CPU than
# mobilenetv3_small_100 at 224, so the slow test stays within minutes on 2 shared cores and the
# cache/worker path carries a larger share of the work. FEATX_LOAD_MODEL picks another.
MODEL = os.environ.get("FEATX_LOAD_MODEL", "timm:test_efficientnet")
CLASSES = ("red", "green", "blue", "gray")
_COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (30, 40, 200), "gray": (128, 128, 128)}
SUMMARY_RE = re.compile(
    r"extracted (\d+) image\(s\), reused (\d+), (\d+) failed, in ([\d.]+)s \(([\d.]+) img/s on (\S+)\) -> "
    r"(.+) \[(\d+) rows, complete\]"
)
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
_CLK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- images

def write_images(root: str, n: int, seed: int = 0) -> dict[str, str]:
    """``n`` small seeded images (32x32 .. 48x40, every third a JPEG, the rest PNG) in one
    sub-folder per class; returns {absolute path: sha256 of the file bytes}."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in CLASSES:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    widths = rng.integers(32, 49, size=n)
    heights = rng.integers(32, 41, size=n)
    for i in range(n):
        name = CLASSES[i % len(CLASSES)]
        w, h = int(widths[i]), int(heights[i])
        base = np.array(_COLOURS[name], dtype=np.int16)
        arr = np.clip(base + rng.integers(-40, 41, size=(h, w, 3), dtype=np.int16), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        if i % 3 == 0:
            Image.fromarray(arr).save(buf, format="JPEG", quality=90)
            ext = "jpg"
        else:
            Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
            ext = "png"
        data = buf.getvalue()
        path = os.path.join(root, name, f"{name}_{i:05d}.{ext}")
        with open(path, "wb") as fh:
            fh.write(data)
        out[path] = hashlib.sha256(data).hexdigest()
    return out


# ---------------------------------------------------------------- /proc sampling

def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:  # the process is gone
        return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (scanning /proc: no /proc/PID/task/*/children here)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if not stat:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def rss_kb(pid: int) -> int:
    status = _read(f"/proc/{pid}/status")
    if not status:
        return 0
    m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(m.group(1)) if m else 0


def cpu_seconds(pid: int) -> float:
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _CLK  # utime + stime


def system_busy_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (from /proc/stat)."""
    fields = _read("/proc/stat").split("\n", 1)[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq) / _CLK


def done_rows(path: str) -> int | None:
    """Rows flagged done, from a fresh read-only handle (None while the file is not there yet;
    the cache is renamed into place complete, so any error opening it is real and raises)."""
    if not os.path.exists(path):
        return None
    with h5py.File(path, "r", locking=False) as f:
        return int(f["done"][:].astype(bool).sum())


@dataclass
class Sample:
    t: float  # seconds since the job started
    done: int
    rss_tree_kb: int
    rss_main_kb: int
    n_procs: int
    cpu_tree_s: float
    cpu_all_s: float = 0.0  # busy CPU seconds of the whole machine (to show contention)


# ---------------------------------------------------------------- the run

def featx_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "featx")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "featx.pipelines"]


@dataclass
class LoadRun:
    n: int
    cache: str
    images: dict[str, str]
    samples: list[Sample]
    reads: list[dict]
    read_dir: str
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    gen_s: float
    reader_rc: int | None
    reader_stderr: str
    extras: dict = field(default_factory=dict)


def run_load(tmp_path, n: int, *, batch_size: int = 64, workers: int = 2, sample_every: float = 0.25,
             read_every: float = 2.0, timeout: float = 540.0, seed: int = 0, wait_reader: bool = True) -> LoadRun:
    """Generate ``n`` images, start the reader process (``wait_reader``: wait until it has
    imported featx; otherwise it starts up while featx does), run ``featx extract`` and sample
    it every ``sample_every`` seconds until it exits."""
    tmp = str(tmp_path)
    t_gen = time.monotonic()
    images = write_images(os.path.join(tmp, "imgs"), n, seed=seed)
    gen_s = time.monotonic() - t_gen
    cache = os.path.join(tmp, "load.h5")
    read_dir = os.path.join(tmp, "reads")
    ready, stop = os.path.join(tmp, "reader.ready"), os.path.join(tmp, "reader.stop")
    reader_err_path = os.path.join(tmp, "reader.stderr")
    out_path, err_path = os.path.join(tmp, "featx.stdout"), os.path.join(tmp, "featx.stderr")
    cmd = [*featx_command(), "extract", os.path.join(tmp, "imgs"), "-o", cache, "--model", MODEL,
           "--weights", "none", "--workers", str(workers), "--batch-size", str(batch_size), "--device", "cpu"]
    samples: list[Sample] = []
    sampler_errors: list[str] = []
    reader = proc = None
    reader_ready_s = None
    try:
        # the reader starts first (importing featx takes seconds) and waits for the cache to appear
        with open(reader_err_path, "w") as reader_err:
            reader = subprocess.Popen(
                [sys.executable, READER, cache, read_dir, "--interval", str(read_every), "--ready", ready,
                 "--stop", stop], stdout=subprocess.DEVNULL, stderr=reader_err,
            )
        if wait_reader:
            t_wait = time.monotonic() + 120
            while not os.path.exists(ready):
                assert reader.poll() is None, f"reader died at start:\n{_tail(reader_err_path)}"
                assert time.monotonic() < t_wait, "reader did not start within 120 s"
                time.sleep(0.05)

        with open(out_path, "w") as out_fh, open(err_path, "w") as err_fh:
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=out_fh, stderr=err_fh)
        while proc.poll() is None:
            if reader_ready_s is None and os.path.exists(ready):
                reader_ready_s = time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"featx extract still running after {timeout:.0f} s\n{_tail(err_path)}")
            t = time.monotonic() - t0
            try:
                d = done_rows(cache)
            except Exception as exc:  # opening the cache being written failed: a finding
                sampler_errors.append(f"{t:.1f}s: {type(exc).__name__}: {exc}")
                d = None
            tree = process_tree(proc.pid)
            rss = [rss_kb(p) for p in tree]
            cpu = sum(cpu_seconds(p) for p in tree)
            if d is not None:
                samples.append(Sample(t, d, sum(rss), rss[0], len([r for r in rss if r]), cpu, system_busy_seconds()))
            time.sleep(sample_every)
        wall = time.monotonic() - t0
        end = done_rows(cache)
        if end is not None:
            last = samples[-1] if samples else Sample(0, 0, 0, 0, 0, 0.0, 0.0)
            samples.append(Sample(wall, end, 0, 0, 0, last.cpu_tree_s, last.cpu_all_s))

        # let the reader take its last read (it stops at a complete cache or at the stop file)
        with open(stop, "w"):
            pass
        try:
            reader_rc = reader.wait(timeout=120)
        except subprocess.TimeoutExpired:
            reader.kill()
            reader_rc = reader.wait()
    finally:
        for p in (proc, reader):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    reads = []
    log = os.path.join(read_dir, "reads.jsonl")
    if os.path.exists(log):
        with open(log) as fh:
            reads = [json.loads(line) for line in fh if line.strip()]
    offset = time.time() - time.monotonic()
    for r in reads:
        r["t_job"] = r["t"] - offset - t0  # wall clock -> seconds into the job
    with open(out_path) as fh:
        stdout = fh.read()
    return LoadRun(n, cache, images, samples, reads, read_dir, proc.returncode, stdout, _tail(err_path, 4000),
                   wall, gen_s, reader_rc, _tail(reader_err_path, 4000), {"sampler_errors": sampler_errors, "reader_ready_s": reader_ready_s})


def _tail(path: str, chars: int = 2000) -> str:
    try:
        with open(path, errors="replace") as fh:
            return fh.read()[-chars:]
    except OSError:
        return ""


# ---------------------------------------------------------------- analysis

def crossing_time(samples: list[Sample], k: float) -> float | None:
    """When ``done`` reached ``k`` rows, interpolated between the two samples around it."""
    prev = None
    for s in samples:
        if s.done >= k:
            if prev is None or s.done == prev.done:
                return s.t
            return prev.t + (k - prev.done) / (s.done - prev.done) * (s.t - prev.t)
        prev = s
    return None


def quarter_stats(run: LoadRun) -> dict:
    """Per quarter of the rows: images/s (between the times ``done`` crossed 1, N/4, N/2, 3N/4
    and N rows), peak RSS of the process tree and of the main process, CPU ms per image of the
    tree, and the CPU other processes used meanwhile (cores busy outside featx: contention).
    Memory counts samples while rows are being extracted; the exit phase (after the last row:
    workers gone, interpreter teardown) is reported apart as ``rss_exit_mb``."""
    n = run.n
    t_last = crossing_time(run.samples, n)
    live = [s for s in run.samples if s.rss_tree_kb > 0 and (t_last is None or s.t <= t_last)]
    after = [s for s in run.samples if s.rss_tree_kb > 0 and t_last is not None and s.t > t_last]
    procs_max = max((s.n_procs for s in live), default=0)
    marks = [1] + [n * q / 4 for q in (1, 2, 3)] + [n]
    times = [crossing_time(run.samples, k) for k in marks]
    rates, cpu_per_img, rss_tree_peak, rss_main_peak, other = [], [], [], [], []
    for q in range(4):
        a, b = times[q], times[q + 1]
        rows = marks[q + 1] - marks[q]
        rates.append(rows / (b - a) if a is not None and b is not None and b > a else float("nan"))
        lo, hi = marks[q], marks[q + 1]
        inq = [s for s in live if lo <= s.done < hi or (q == 3 and s.done >= hi)]
        rss_tree_peak.append(max((s.rss_tree_kb for s in inq), default=0) / 1024)
        rss_main_peak.append(max((s.rss_main_kb for s in inq), default=0) / 1024)
        # CPU only between samples of the full tree: a worker's CPU time leaves the sum when it exits
        full = [s for s in inq if s.n_procs == procs_max]
        if len(full) >= 2 and full[-1].done > full[0].done:
            first, last = full[0], full[-1]
            cpu_per_img.append((last.cpu_tree_s - first.cpu_tree_s) / (last.done - first.done) * 1000)
            busy = (last.cpu_all_s - first.cpu_all_s) - (last.cpu_tree_s - first.cpu_tree_s)
            other.append(max(0.0, busy) / (last.t - first.t) if last.t > first.t else float("nan"))
        else:
            cpu_per_img.append(float("nan"))
            other.append(float("nan"))
    return {
        "img_s": rates, "rss_tree_mb": rss_tree_peak, "rss_main_mb": rss_main_peak, "cpu_ms_per_img": cpu_per_img,
        "other_cores_busy": other, "rss_exit_mb": max((s.rss_tree_kb for s in after), default=0) / 1024,
        "first_row_s": times[0], "last_row_s": t_last, "procs_max": procs_max,
        "samples": len(run.samples), "reader_ready_s": run.extras.get("reader_ready_s"),
    }


def check_reads(run: LoadRun, *, min_mid_reads: int) -> dict:
    """Every read succeeded, its done rows were finite and non-zero, reads saw the cache grow, and
    each read's values equal the final cache's values for the same rows, bit for bit."""
    from featx.extract import read_cache

    assert run.reads, f"the reader recorded no read at all (rc {run.reader_rc}):\n{run.reader_stderr}"
    errors = [r for r in run.reads if "error" in r]
    assert not errors, (
        f"featx's reader failed on the cache while it was being written ({len(errors)} of {len(run.reads)} reads), "
        f"first: {errors[0]['error']}\n{errors[0].get('traceback', '')}"
    )
    problems = [r for r in run.reads if r.get("info_problems")]
    assert not problems, f"cache_info reported problems mid-job: {problems[0]['info_problems']}"
    for r in run.reads:
        assert r["rows_sorted_unique"] and r["hashes_ok"], r
        assert r["rows_total"] == run.n and r["info_rows"] == run.n, r
        assert r["failures"] == 0, r
        for layer, d in r["layers"].items():
            assert d["n_not_finite"] == 0 and d["n_zero"] == 0, (
                f"read {r['i']} ({r['n_read']} rows done): {d['n_not_finite']} rows of {layer} not finite and "
                f"{d['n_zero']} all zero although flagged done (rows {d['bad_rows']})"
            )
    mid = [r for r in run.reads if not r["complete"] and 0 < r["n_read"] < run.n]
    assert len(mid) >= min_mid_reads, (
        f"only {len(mid)} read(s) saw the cache part-written (need {min_mid_reads}); reads: "
        f"{[(r['n_read'], r['complete']) for r in run.reads]}"
    )
    seen = [r["n_read"] for r in run.reads]
    assert seen == sorted(seen), f"done rows went backwards between reads: {seen}"

    final = read_cache(run.cache)
    assert np.array_equal(final.rows, np.arange(run.n))
    compared_rows = 0
    for r in run.reads:
        z = np.load(os.path.join(run.read_dir, f"read_{r['i']:04d}.npz"))
        rows = z["rows"].astype(np.int64)
        assert len(rows) == r["n_read"]
        hashes = "\n".join(str(h) for h in final.hashes[rows])
        assert hashlib.sha256(hashes.encode()).hexdigest() == r["sha_hashes"], f"read {r['i']}: sha256 column differs from the final cache"
        for layer, d in r["layers"].items():
            x = final.features[layer][rows]
            pos = z["sample_pos"]
            np.testing.assert_array_equal(z[f"sample::{layer}"], x[pos],
                                          err_msg=f"read {r['i']} ({len(rows)} rows): {layer} values seen mid-job differ from the final cache")
            assert hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest() == d["sha"], (
                f"read {r['i']} ({len(rows)} rows): {layer} features seen mid-job differ from the final cache"
            )
        compared_rows += len(rows)
    return {"reads": len(run.reads), "mid_job_reads": len(mid), "rows_compared": compared_rows,
            "mid_done": [r["n_read"] for r in mid]}


def check_final(run: LoadRun) -> dict:
    """The job ended well: summary line, every row done, nothing lost or failed, right hashes."""
    assert run.returncode == 0, f"featx extract exited {run.returncode}:\n{run.stderr}"
    errs = run.extras.get("sampler_errors", [])
    assert not errs, f"h5py could not read the cache while it was written ({len(errs)} samples), first: {errs[0]}"
    m = SUMMARY_RE.search(run.stdout)
    assert m, f"no summary line in featx's output:\n{run.stdout}\n{run.stderr}"
    extracted, reused, failed, rows = int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(8))
    assert (extracted, reused, failed, rows) == (run.n, 0, 0, run.n), m.group(0)
    with h5py.File(run.cache, "r", locking=False) as f:
        done = f["done"][:]
        failure = f["failure"][:]
        paths = [p.decode() if isinstance(p, bytes) else str(p) for p in f["paths"][:]]
        sha = [h.decode() for h in f["sha256"][:]]
        complete = bool(f.attrs["complete"])
        feats = {k: f["features"][k][:] for k in f["features"]}
    assert complete and len(done) == run.n and done.all(), f"{int(done.sum())} of {len(done)} rows done"
    assert not any(failure), "some rows were recorded as failures"
    src = os.path.join(os.path.dirname(run.cache), "imgs")
    got = {os.path.join(src, p): h for p, h in zip(paths, sha)}
    assert len(got) == run.n and set(got) == set(run.images), "cache rows do not match the image files"
    wrong = [p for p, h in run.images.items() if got[p] != h]
    assert not wrong, f"{len(wrong)} rows hold another file's hash, e.g. {wrong[:3]}"
    for layer, x in feats.items():
        x = x.astype(np.float32)
        assert np.isfinite(x).all() and (np.abs(x).sum(axis=1) > 0).all(), f"{layer}: non-finite or all-zero rows"
        # a lost or duplicated batch shows as repeated rows; random-weight features of distinct
        # noisy images are distinct
        assert len(np.unique(x, axis=0)) > 0.99 * run.n, f"{layer}: many identical feature rows"
    return {"summary": m.group(0), "job_img_s": float(m.group(5)), "job_s": float(m.group(4))}


def steady_bound(q: dict, quarter: int, ratio: float, ref: int = 1) -> float:
    """The least images/s quarter ``quarter`` may run at: ``ratio`` x the reference quarter's rate,
    lowered in proportion only when other processes measurably took more of the machine's cores
    during it than during the reference quarter (the machine is shared; a slowdown of featx's own
    making leaves other processes' CPU use unchanged and meets the full bound)."""
    cores = os.cpu_count() or 2
    other = q["other_cores_busy"]
    factor = 1.0
    if math.isfinite(other[quarter]) and math.isfinite(other[ref]) and other[quarter] > other[ref] + 0.25:
        avail = lambda x: max(0.2, cores - x)  # noqa: E731
        factor = min(1.0, avail(other[quarter]) / avail(other[ref]))
    return ratio * factor * q["img_s"][ref]


def save_result(path, line: str, run: LoadRun, q: dict, reads: dict) -> None:
    """Everything measured, as JSON (the per-sample series included) for later analysis."""
    from dataclasses import asdict

    doc = {"line": line, "quarters": q, "reads_check": reads, "wall_s": run.wall_s, "n": run.n,
           "samples": [asdict(s) for s in run.samples],
           "reads": [{k: r.get(k) for k in ("i", "t_job", "n_read", "info_done", "complete")} for r in run.reads]}
    with open(path, "w") as fh:
        json.dump(doc, fh, default=str)


def summary_line(label: str, run: LoadRun, q: dict, reads: dict, final: dict) -> str:
    f = lambda xs, fmt="{:.0f}": "/".join(fmt.format(x) for x in xs)  # noqa: E731
    return (
        f"[{label}] {run.n} images in {run.wall_s:.1f}s (featx: {final['job_s']:.1f}s, {final['job_img_s']:.1f} img/s; "
        f"first row at {q['first_row_s']:.1f}s; images generated in {run.gen_s:.1f}s) | img/s per quarter "
        f"{f(q['img_s'], '{:.1f}')} | peak RSS tree MB per quarter {f(q['rss_tree_mb'])} (main {f(q['rss_main_mb'])}, "
        f"{q['procs_max']} procs; exit phase {q['rss_exit_mb']:.0f}) | CPU ms/img {f(q['cpu_ms_per_img'], '{:.1f}')} | "
        f"other processes' cores busy {f(q['other_cores_busy'], '{:.2f}')} | reader: {reads['reads']} reads, "
        f"{reads['mid_job_reads']} mid-job (seeing {min(reads['mid_done'])}..{max(reads['mid_done'])} rows done), {reads['rows_compared']} row-reads bitwise equal to the final cache, 0 errors"
    )
