"""A small chaos harness: run a real ``python -m featx.pipelines ...`` job, SIGKILL it at chosen
(random, seeded, recorded) points, rerun the same command each time, and finally let it finish.

Only the main process is killed, as the kernel's OOM killer or ``kill -9 PID`` would: DataLoader
workers and other children live on for a moment, and the next attempt is started at once, beside
them (``restart="immediate"``, the realistic case). ``restart="after-orphans"`` (or the environment
variable ``FEATX_CHAOS_RESTART=after-orphans``) waits until the killed process group is empty
before rerunning: a diagnostic switch that tells a locking problem from any other failure.

Every attempt is a new session (``start_new_session``), so its children can be counted after the
kill and are killed at the end, whatever happened (they are processes this harness started).

Typical use::

    triggers = [when(lambda obs: obs.progress.get("rows", 0) >= 300, "rows >= 300", delay=0.1),
                after_seconds(2.5)]
    record = chaos_run(featx_command("extract", src, "-o", cache), triggers, workdir=tmp_path / "logs",
                       probe=lambda: {"rows": done_rows(cache) or 0}, seed=seed)
    assert record.landed == len(triggers) and record.final_returncode == 0
    report(record, "extract", rows=..., rows_lost=record.lost("rows"))

A trigger is called with an :class:`Observation` of the running attempt (seconds since launch,
its stderr so far, the job's progress from ``probe``) and returns True when the kill is due.

Environment: ``FEATX_CHAOS_SEED`` replays a run (the seed is in every summary line),
``FEATX_CHAOS_LOG=FILE`` appends every record as a JSON line, ``FEATX_CHAOS_RESTART`` (above).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from typing import Callable

POLL = 0.01  # seconds between looks at a running attempt
PROBE_EVERY = 0.05  # the probe (e.g. opening an HDF5 file) is rate-limited to this
STAGE_RE = re.compile(r"^\[([a-z_]+)\] ", re.M)  # featx run's stage lines: "[extract] extracting ..."


class ChaosError(AssertionError):
    """An attempt failed on its own, a trigger never fired, or the final run did not finish."""


def featx_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "featx.pipelines", *args]


def chaos_seed(default: int | None = None) -> int:
    """``FEATX_CHAOS_SEED`` when set (to replay a run), else ``default``, else a fresh random seed;
    the seed is recorded in every summary line."""
    text = os.environ.get("FEATX_CHAOS_SEED")
    if text:
        return int(text)
    return default if default is not None else random.SystemRandom().randrange(2**31)


# ---------------------------------------------------------------------------------------------
# what a trigger sees, and a few trigger builders
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Observation:
    attempt: int
    elapsed: float  # seconds since this attempt was launched
    log: str  # this attempt's stderr so far
    _probe: Callable[[], dict]

    @property
    def progress(self) -> dict:
        return self._probe()

    @property
    def stage(self) -> str | None:
        return last_stage(self.log)


def last_stage(log: str) -> str | None:
    found = STAGE_RE.findall(log)
    return found[-1] if found else None


@dataclasses.dataclass
class Trigger:
    """``due(obs)`` says when to kill; ``describe`` is recorded with the kill."""

    describe: str
    due: Callable[[Observation], bool]

    def __call__(self, obs: Observation) -> bool:
        return bool(self.due(obs))


def after_seconds(seconds: float) -> Trigger:
    """Kill ``seconds`` after the attempt was launched (lands wherever the job is then)."""
    return Trigger(f"after {seconds:.2f}s", lambda obs: obs.elapsed >= seconds)


def when(predicate: Callable[[Observation], bool], describe: str, delay: float = 0.0) -> Trigger:
    """Kill ``delay`` seconds after ``predicate(obs)`` first holds."""
    state: dict = {}

    def due(obs: Observation) -> bool:
        if "since" not in state:
            if not predicate(obs):
                return False
            state["since"] = time.monotonic()
        return time.monotonic() - state["since"] >= delay

    return Trigger(describe + (f" + {delay:.2f}s" if delay else ""), due)


def planned_stop(logs, attempt: int, variable: str, spec: str, describe: str) -> tuple[Trigger, dict]:
    """A kill where the job stops itself (``helpers.paused_featx``): the trigger, due once the job
    wrote its marker, and the attempt's environment naming the stop point (``VARIABLE=SPEC:MARKER``)."""
    marker = os.path.join(os.fspath(logs), f"stopped-{attempt}")
    return when(lambda obs: os.path.exists(marker), describe), {variable: f"{spec}:{marker}"}


def in_stage(stage: str, delay: float = 0.0) -> Trigger:
    """Kill ``delay`` seconds after ``featx run`` announced ``stage`` in this attempt."""
    return when(lambda obs: obs.stage == stage or f"[{stage}] " in obs.log, f"stage {stage}", delay)


# ---------------------------------------------------------------------------------------------
# the record
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Kill:
    attempt: int
    trigger: str
    landed: bool  # the process was still running when SIGKILL hit it (it died of the signal)
    at_seconds: float  # since the attempt was launched
    stage: str | None  # the last "[stage]" line the attempt printed (featx run), else None
    progress: dict  # probe() once the process was dead
    progress_at_start: dict | None  # the first probe of this attempt (what the previous kill left)
    min_progress: dict | None  # the smallest values probed during the attempt
    orphans: int  # processes of the killed attempt's group still alive just after the kill
    log_tail: str


@dataclasses.dataclass
class ChaosRecord:
    seed: int
    restart: str
    kills: list[Kill]
    final_returncode: int | None = None
    final_stdout: str = ""
    final_stderr: str = ""
    final_seconds: float = 0.0
    final_progress_at_start: dict | None = None
    seconds: float = 0.0  # wall time of the whole chaos run (kills and final run)
    relaunch_failures: list[str] = dataclasses.field(default_factory=list)

    @property
    def landed(self) -> int:
        return sum(1 for k in self.kills if k.landed)

    @property
    def stages(self) -> list[str]:
        return [k.stage or "-" for k in self.kills if k.landed]

    def lost(self, key: str) -> int:
        """How much of ``progress[key]`` (rows done, epochs done, ...) that a kill left behind was
        missing when the next attempt looked: never negative, must be 0 for a resumable job."""
        lost = 0
        points = [k.progress.get(key) for k in self.kills]
        nexts = [k.min_progress for k in self.kills[1:]] + [self.final_progress_at_start]
        for had, then in zip(points, nexts):
            if had is None or not then or then.get(key) is None:
                continue
            lost += max(0, int(had) - int(then[key]))
        return lost

    def summary(self, name: str, **numbers) -> str:
        extra = " ".join(f"{k}={v}" for k, v in numbers.items())
        return (f"[chaos] {name}: kills landed {self.landed}/{len(self.kills)} stages={','.join(self.stages)} "
                f"{extra} wall {self.seconds:.1f}s (final run {self.final_seconds:.1f}s) seed={self.seed} "
                f"restart={self.restart}")

    def to_json(self) -> dict:
        doc = dataclasses.asdict(self)
        for k in doc["kills"]:
            k["log_tail"] = k["log_tail"][-400:]
        doc["final_stdout"] = self.final_stdout[-2000:]
        doc["final_stderr"] = self.final_stderr[-2000:]
        return doc


def report(record: ChaosRecord, name: str, request=None, **numbers) -> str:
    """Print the one-line summary (pytest -s shows it), attach it to the test's junit properties,
    and append the full record to ``$FEATX_CHAOS_LOG`` (JSON lines) when that is set."""
    line = record.summary(name, **numbers)
    print("\n" + line, flush=True)
    if request is not None:
        request.node.user_properties.append(("chaos", line))
    log = os.environ.get("FEATX_CHAOS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": name, "summary": line, "numbers": numbers, **record.to_json()}, default=str) + "\n")
    return line


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid`` (Linux /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _merge_min(low: dict | None, value: dict) -> dict:
    if low is None:
        return dict(value)
    out = dict(low)
    for k, v in value.items():
        if isinstance(v, (int, float)) and isinstance(out.get(k), (int, float)):
            out[k] = min(out[k], v)
        elif k not in out:
            out[k] = v
    return out


def chaos_run(command: list[str], triggers: list[Trigger], *, workdir, probe: Callable[[], dict] | None = None,
              env: dict | None = None, cwd=None, seed: int = 0, restart: str | None = None,
              attempt_timeout: float = 600.0, final_timeout: float = 900.0,
              stage_of: Callable[[str, dict, dict], str | None] | None = None,
              attempt_env: Callable[[int], dict] | None = None) -> ChaosRecord:
    """Run ``command`` once per trigger, SIGKILLing the main process when the trigger fires, then
    once more to completion; returns the :class:`ChaosRecord`.

    Raises :class:`ChaosError` when an attempt exits on its own with an error (e.g. a rerun refused
    because of a lock), when a trigger does not fire within ``attempt_timeout`` seconds, or when
    the job finishes before a trigger fired (the kill could not land). The final run's exit status
    and output are in the record for the caller to check. ``stage_of(log, progress_at_start,
    progress_at_kill)`` names where each kill landed (default: the last ``[stage]`` line of the log).
    ``attempt_env(attempt)`` adds variables to the environment of that killed attempt only (the
    final run gets ``env``), e.g. where the job should stop itself for its kill.
    """
    restart = restart or os.environ.get("FEATX_CHAOS_RESTART", "immediate")
    if restart not in ("immediate", "after-orphans"):
        raise ValueError(f"restart must be 'immediate' or 'after-orphans'; got {restart!r}")
    workdir = os.fspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    probe = probe or (lambda: {})
    record = ChaosRecord(seed=seed, restart=restart, kills=[])
    groups: list[int] = []
    t_all = time.monotonic()
    last_pgid = None
    try:
        for attempt, trigger in enumerate(triggers):
            if restart == "after-orphans" and last_pgid is not None:
                deadline = time.monotonic() + 60
                while _group_members(last_pgid) and time.monotonic() < deadline:
                    time.sleep(0.05)
            env_k = {**(env if env is not None else os.environ), **attempt_env(attempt)} if attempt_env else env
            record.kills.append(_one_attempt(command, trigger, attempt, workdir, probe, env_k, cwd, attempt_timeout, groups,
                                             stage_of or (lambda log, _start, _end: last_stage(log))))
            last_pgid = groups[-1]
        if restart == "after-orphans" and last_pgid is not None:
            deadline = time.monotonic() + 60
            while _group_members(last_pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
        record.final_progress_at_start = _safe_probe(probe)
        t = time.monotonic()
        out_path, err_path = os.path.join(workdir, "final.out"), os.path.join(workdir, "final.log")
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
            groups.append(proc.pid)
            try:
                proc.wait(timeout=final_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise ChaosError(f"the final run did not finish within {final_timeout:.0f}s:\n{_read(err_path)[-3000:]}") from None
        record.final_seconds = time.monotonic() - t
        record.final_returncode = proc.returncode
        record.final_stdout, record.final_stderr = _read(out_path), _read(err_path)
    except ChaosError as exc:
        done = "; ".join(f"#{k.attempt} {k.trigger} -> {k.stage} {k.progress} at {k.at_seconds}s, orphans {k.orphans}"
                         for k in record.kills)
        raise ChaosError(f"{exc}\n(seed {seed}, restart {restart}; kills before: {done or 'none'})") from None
    finally:
        for pgid in groups:
            _kill_group(pgid)
        record.seconds = time.monotonic() - t_all
    return record


def _safe_probe(probe) -> dict:
    try:
        return dict(probe())
    except Exception:
        return {}


def _one_attempt(command, trigger: Trigger, attempt: int, workdir: str, probe, env, cwd, timeout: float,
                 groups: list[int], stage_of) -> Kill:
    out_path = os.path.join(workdir, f"attempt-{attempt}.out")
    err_path = os.path.join(workdir, f"attempt-{attempt}.log")
    state = {"last_probe": -1.0, "value": {}, "first": None, "min": None}

    def cached_probe() -> dict:
        now = time.monotonic()
        if now - state["last_probe"] >= PROBE_EVERY:
            state["last_probe"] = now
            value = _safe_probe(probe)
            if value:
                state["value"] = value
                state["first"] = state["first"] or dict(value)
                state["min"] = _merge_min(state["min"], value)
        return state["value"]

    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        groups.append(proc.pid)
        try:
            cached_probe()  # what the previous attempt left, as early as possible
            while True:
                rc = proc.poll()
                elapsed = time.monotonic() - t0
                if rc is not None:
                    log = _read(err_path)
                    if rc != 0:
                        raise ChaosError(
                            f"attempt {attempt} ({trigger.describe}) exited with status {rc} after {elapsed:.1f}s "
                            f"before it was killed:\n{log[-3000:]}")
                    raise ChaosError(
                        f"attempt {attempt}: the job finished after {elapsed:.1f}s before its kill "
                        f"({trigger.describe}) fired: the kill could not land; plan earlier kills\n{log[-1500:]}")
                if elapsed > timeout:
                    raise ChaosError(f"attempt {attempt}: trigger {trigger.describe!r} did not fire within {timeout:.0f}s:\n"
                                     f"{_read(err_path)[-3000:]}")
                obs = Observation(attempt, elapsed, _read(err_path), cached_probe)
                cached_probe()
                if trigger(obs):
                    break
                time.sleep(POLL)
            at = time.monotonic() - t0
            try:
                os.kill(proc.pid, signal.SIGKILL)  # the main process only
            except ProcessLookupError:
                pass
            proc.wait()
        finally:
            if proc.poll() is None:  # an error above: do not leave it running
                proc.kill()
                proc.wait()
    orphans = len(_group_members(proc.pid))
    log = _read(err_path)
    landed = proc.returncode == -signal.SIGKILL
    if not landed and proc.returncode != 0:
        raise ChaosError(f"attempt {attempt} exited with status {proc.returncode} just before its kill:\n{log[-3000:]}")
    if not landed:
        raise ChaosError(f"attempt {attempt}: the job finished just before its kill ({trigger.describe}) landed")
    progress = _safe_probe(probe)
    return Kill(attempt=attempt, trigger=trigger.describe, landed=landed, at_seconds=round(at, 3),
                stage=stage_of(log, state["first"] or {}, progress), progress=progress, progress_at_start=state["first"],
                min_progress=state["min"], orphans=orphans, log_tail=log[-600:])


# ---------------------------------------------------------------------------------------------
# checks shared by the chaos tests
# ---------------------------------------------------------------------------------------------


def tmp_leftovers(*folders) -> list[str]:
    """Every ``*.tmp-*`` file under ``folders`` (a killed writer's temporary files that nobody removed)."""
    found = []
    for folder in folders:
        for root, _dirs, files in os.walk(os.fspath(folder)):
            found += [os.path.join(root, f) for f in files if ".tmp-" in f]
    return sorted(found)


def done_rows(path) -> int | None:
    """Rows marked done in a featx cache, read without locking while another process writes it
    (None while the file is absent or unreadable, e.g. during its creation)."""
    import h5py

    try:
        with h5py.File(os.fspath(path), "r", locking=False) as f:
            return int(f["done"][:].astype(bool).sum())
    except Exception:
        return None


def cache_arrays(path) -> dict:
    """Every dataset of a featx cache, raw (paths, labels, groups, splits, sizes, mtimes, sha256,
    failure, done, features/<layer>) plus the attributes that describe the rows and settings."""
    import h5py

    out = {}
    with h5py.File(os.fspath(path), "r", locking=False) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f.visititems(visit)
        for key in ("spec", "class_names", "source", "layer_dims", "complete", "format", "format_version"):
            out["@" + key] = f.attrs.get(key)
    return out


def assert_same_cache(clean_path, chaos_path) -> int:
    """The two caches hold the same rows with the same values, bit for bit; returns the row count."""
    import numpy as np

    a, b = cache_arrays(clean_path), cache_arrays(chaos_path)
    assert sorted(a) == sorted(b), f"datasets differ: {sorted(set(a) ^ set(b))}"
    for key in sorted(a):
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, f"{key}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
            if x.dtype == object:
                assert x.tolist() == y.tolist(), f"{key} differs"
            else:
                diff = np.flatnonzero(np.any((x.view(np.uint8) != y.view(np.uint8)).reshape(len(x), -1), axis=1)) \
                    if x.ndim and len(x) else []
                assert len(diff) == 0 and x.tobytes() == y.tobytes(), \
                    f"{key}: {len(diff)} row(s) differ, first {list(diff[:5])}"
        else:
            assert x == y, f"{key}: {x!r} != {y!r}"
    assert bool(a["@complete"]) and bool(a["done"].all()), "the clean cache is not complete"
    return int(len(a["done"]))


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------

BROKEN = ("truncated.jpg", "not_an_image.png", "empty.jpg")


def write_chaos_images(root, n: int, *, seed: int = 0, broken_per_class: int = 1) -> dict:
    """``n`` small noisy colour images in red/green/blue class folders (sizes 32x24 .. 64x48, about
    40% JPEG, the rest PNG), plus ``broken_per_class`` undecodable files per class (a truncated
    JPEG, text named .png, an empty .jpg, in turn). Returns {"images": n, "broken": k, "root": root}."""
    import io

    import numpy as np

    from helpers.testdata import CLASS_COLOURS, make_image

    root = os.fspath(root)
    classes = list(CLASS_COLOURS)
    rng = np.random.default_rng(seed)
    for name in classes:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for i in range(n):
        name = classes[i % len(classes)]
        w = int(rng.integers(32, 65))
        h = int(rng.integers(24, 49))
        img = make_image(CLASS_COLOURS[name], size=(w, h), seed=seed * 1_000_003 + i)
        ext = "jpg" if rng.random() < 0.4 else "png"
        img.save(os.path.join(root, name, f"{name}_{i:05d}.{ext}"))
    broken = 0
    for c, name in enumerate(classes):
        for j in range(broken_per_class):
            kind = BROKEN[(c + j) % len(BROKEN)]
            path = os.path.join(root, name, f"{name}_broken{j}_{kind}")
            if kind == "truncated.jpg":
                buf = io.BytesIO()
                make_image(CLASS_COLOURS[name], size=(64, 48), seed=99).save(buf, format="JPEG")
                data = buf.getvalue()[: len(buf.getvalue()) // 2]
            elif kind == "not_an_image.png":
                data = b"this is not an image\n"
            else:
                data = b""
            with open(path, "wb") as fh:
                fh.write(data)
            broken += 1
    return {"images": n, "broken": broken, "root": root}
