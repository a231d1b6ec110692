"""Shared helpers for the benchmark scripts: machine and version records, interleaved repeats,
medians and one-line results.

Every script prints a header (command, machine, load, versions) and then one ``result`` line per
case, ``key=value`` pairs that are easy to grep and paste into BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import sys
import time
from importlib.metadata import PackageNotFoundError, version

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BENCH_DATA = os.environ.get("FEATX_BENCH_DATA", "/work/bench-data")
HYMENOPTERA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "hymenoptera"))
JPEG5K = os.path.join(BENCH_DATA, "jpeg5k")
TV_PYTHON = os.path.join(BENCH_DATA, "tv-venv", "bin", "python")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:
        pass
    return "none"


def versions(packages=("featx", "torch", "torchvision", "timm", "numpy", "pillow", "h5py", "scikit-learn")) -> dict:
    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    try:
        from PIL import features

        out["libjpeg-turbo"] = features.version("jpg")
    except Exception:
        pass
    return out


def load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def header(name: str, extra: dict | None = None) -> None:
    """Print what was run where: the exact command, machine, load and library versions."""
    try:
        import torch

        threads = torch.get_num_threads()
    except Exception:
        threads = None
    print(f"# benchmark: {name}")
    print(f"# command: {shlex.join([os.path.relpath(sys.executable, REPO) if sys.executable.startswith(REPO) else sys.executable] + sys.argv)}")
    print(f"# machine: cpu={cpu_model()!r} cores={os.cpu_count()} torch_threads={threads} gpu={gpu_name()} "
          f"os={platform.system()} {platform.release()}")
    print(f"# load average at start (1/5/15 min): {load()}")
    print(f"# versions: {json.dumps(versions(), sort_keys=True)}")
    if extra:
        print(f"# settings: {json.dumps(extra, sort_keys=True)}")
    sys.stdout.flush()


def result(case: str, **fields) -> None:
    parts = [f"result case={case}"]
    for k, v in fields.items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, (list, tuple)):
            v = "[" + ",".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v) + "]"
        parts.append(f"{k}={v}")
    print(" ".join(parts), flush=True)


def median(xs) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def _cpu_now() -> float:
    """CPU seconds of this process (all threads) plus its reaped children (DataLoader workers)."""
    import resource

    self_ = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return self_.ru_utime + self_.ru_stime + kids.ru_utime + kids.ru_stime


class Timer:
    """Wall seconds and CPU seconds (this process and the children it reaped meanwhile). CPU time
    per image is robust to other load on the machine; wall time is not."""

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.c0 = _cpu_now()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu_seconds = _cpu_now() - self.c0


def subset_manifest(root: str, n: int | None, out_dir: str) -> str:
    """A CSV manifest of the first ``n`` images of the class-folder source ``root`` (sorted
    like featx sorts them), or ``root`` itself when ``n`` is None or covers it all."""
    from featx.extract import open_source

    table = open_source(root)
    if n is None or n >= len(table):
        return root
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{os.path.basename(os.path.normpath(root))}-first{n}.csv")
    with open(path, "w") as fh:
        fh.write("path,label\n")
        for i in range(n):
            fh.write(f"{table.absolute(i)},{table.class_names[table.labels[i]]}\n")
    return path


def image_files(source: str) -> tuple[list[str], list[int]]:
    """Absolute paths and labels of a folder or manifest source, in featx's order."""
    from featx.extract import open_source

    table = open_source(source)
    return [table.absolute(i) for i in range(len(table))], [int(x) for x in table.labels]
