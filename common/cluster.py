"""Where a job's work runs: this process, or a Dask cluster.

A cluster is named by one string, the same on the command line (``--cluster``), in a spec
(``cluster = "local:2"``) and in Python, where a ``distributed.Client`` is accepted as well:

- ``local:N``: a ``distributed.LocalCluster`` of N worker processes (one thread each) on
  loopback, dashboard off, started for the job and closed after it;
- ``tcp://host:8786`` (any address a ``distributed.Client`` takes): a running scheduler;
- ``scheduler_file=FILE`` (``--scheduler-file``): the file a ``dask scheduler
  --scheduler-file FILE`` wrote.

A ``tls://`` scheduler is reached with Dask's own TLS configuration (:func:`tls`: ``--tls-ca-file``,
``--tls-cert``, ``--tls-key``, or the ``distributed.comm.tls`` config keys); a plain ``tcp://``
scheduler runs the code of anyone who can reach it, as its workers' user. ``local:N`` listens on
127.0.0.1 only.

dask and distributed are imported only when a cluster is asked for; without them the job fails
with one line naming the install command. Workers are started non-daemonic (``local:N``), so a
task may start DataLoader processes.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

from featx.common.options import Option, OptionError
from featx.common.messages import first_line

INSTALL = "pip install 'dask[distributed]'"


class ClusterError(RuntimeError):
    """The cluster named cannot be used (dask missing, bad address, no scheduler, no workers)."""


def _check_cluster(value):
    if value is None or _is_client(value):
        return value
    if not isinstance(value, str) or not value.strip():
        raise OptionError(f"expected 'local:N', a scheduler address such as 'tcp://host:8786', or unset; got {value!r}")
    value = value.strip()
    if value.startswith("local"):
        parse_local(value)
    elif "://" not in value and not re.fullmatch(r"[\w.\-]+:\d+", value):
        raise OptionError(f"{value!r} is neither 'local:N' nor a scheduler address such as 'tcp://host:8786'")
    return value


class _ClusterOption(Option):
    """``local:N``, a scheduler address, or unset (a ``distributed.Client`` in Python)."""

    def _check(self, value):
        return _check_cluster(value)

    @property
    def doc(self) -> str:
        return "string ('local:N' or a scheduler address such as 'tcp://host:8786') or unset"


CLUSTER = _ClusterOption(
    "cluster", None,
    "where the work runs: unset = this process; 'local:N' = N local Dask worker processes (one thread "
    "each); or a Dask scheduler address such as tcp://host:8786",
)


def parse_local(value: str) -> int:
    """The N of ``local:N`` (at least 1)."""
    m = re.fullmatch(r"local:(\d+)", value.strip())
    if not m or int(m.group(1)) < 1:
        raise OptionError(f"{value!r}: write 'local:N' with N >= 1 worker processes, e.g. 'local:2'")
    return int(m.group(1))


def _is_client(value) -> bool:
    return type(value).__name__ == "Client" and type(value).__module__.startswith("distributed")


def require_distributed():
    """The ``distributed`` module, or one line saying how to install it."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError as exc:
        raise ClusterError(f"a cluster needs dask and distributed ({exc}); install them: {INSTALL}") from None
    return distributed


def wanted(cluster=None, scheduler_file=None) -> bool:
    """Whether a cluster is asked for at all."""
    return cluster is not None or scheduler_file is not None


@contextlib.contextmanager
def connect(cluster=None, *, scheduler_file: str | None = None, timeout: float = 30) -> Iterator:
    """A ``distributed.Client`` for ``cluster`` (see the module docstring), or ``None`` when none
    is asked for. A client passed in is used as it is and left open; a client (and a ``local:N``
    cluster) made here is closed on exit."""
    if _is_client(cluster):
        yield cluster
        return
    if not wanted(cluster, scheduler_file):
        yield None
        return
    if cluster is not None and scheduler_file is not None:
        raise ClusterError("give either a cluster address or a scheduler file, not both")
    distributed = require_distributed()
    with contextlib.ExitStack() as stack:
        if scheduler_file is not None:
            if not os.path.exists(scheduler_file):
                raise ClusterError(f"scheduler file {scheduler_file!r} does not exist; start one with "
                                   f"'dask scheduler --scheduler-file {scheduler_file}'")
            _check_scheduler_file(scheduler_file)
            client = _client(distributed, lambda: distributed.Client(scheduler_file=scheduler_file, timeout=timeout),
                             f"the scheduler in {scheduler_file}")
        else:
            cluster = _check_cluster(cluster)
            if cluster.startswith("local"):
                local = stack.enter_context(local_cluster(parse_local(cluster)))
                client = distributed.Client(local)
            else:
                client = _client(distributed, lambda: distributed.Client(cluster, timeout=timeout), cluster)
        stack.enter_context(client)
        yield client


def _check_scheduler_file(path: str) -> None:
    """One line unless ``path`` is the JSON object with an ``address`` that a scheduler writes."""
    import json

    fix = f"point --scheduler-file at the file 'dask scheduler --scheduler-file {path}' writes"
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ClusterError(f"scheduler file {path!r} is not JSON ({first_line(exc)}); "
                           f"{fix}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("address"), str) or "://" not in doc["address"]:
        raise ClusterError(f"scheduler file {path!r} holds no scheduler address (no 'address' such as "
                           f"'tls://host:8786'); {fix}")


def _client(distributed, make, where: str):
    try:
        return make()
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach {where}: {first_line(exc)}; "
                           "is the scheduler running?") from None
    except (TypeError, ValueError) as exc:  # e.g. a tls:// address without a TLS configuration
        raise ClusterError(f"cannot connect to {where}: {first_line(exc)}; "
                           "a tls:// scheduler needs the client's certificate: pass --tls-ca-file, --tls-cert and "
                           "--tls-key (or set distributed.comm.tls.ca-file, .client.cert, .client.key; see the README, "
                           "'On a cluster')") from None


@contextlib.contextmanager
def local_cluster(n_workers: int, *, threads_per_worker: int = 1):
    """A loopback ``distributed.LocalCluster`` of ``n_workers`` non-daemonic worker processes,
    dashboard off (what ``local:N`` and the tests use)."""
    distributed = require_distributed()
    import dask

    # non-daemonic workers may start DataLoader processes of their own
    # logs at CRITICAL only: a task's failure reaches the driver as one line, never as a worker's traceback
    with dask.config.set({"distributed.worker.daemon": False, "distributed.logging.distributed": "critical"}):
        cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                           processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0", worker_dashboard_address=None,
                                           silence_logs=50)
    try:
        yield cluster
    finally:
        cluster.close()


def describe(client) -> str:
    """``3 worker(s) at tcp://127.0.0.1:8786``: a client's cluster, for a job's first line."""
    info = client.scheduler_info()
    return f"{len(info.get('workers', {}))} worker(s) at {info.get('address', '?')}"


SCHEDULER_FILE = Option("scheduler_file", None, "the JSON file a 'dask scheduler --scheduler-file FILE' wrote "
                        "(instead of --cluster ADDRESS)")

TLS_CA_FILE = Option("tls_ca_file", None, "a tls:// scheduler: the CA certificate (PEM) that signed the scheduler's "
                     "and the workers' certificates (Dask's distributed.comm.tls.ca-file)")
TLS_CERT = Option("tls_cert", None, "a tls:// scheduler: this client's certificate (PEM; may hold the key too), "
                  "signed by that CA (distributed.comm.tls.client.cert)")
TLS_KEY = Option("tls_key", None, "a tls:// scheduler: this client's private key (PEM), when --tls-cert does not "
                 "hold it (distributed.comm.tls.client.key)")
TLS_OPTIONS = (TLS_CA_FILE, TLS_CERT, TLS_KEY)


@contextlib.contextmanager
def tls(ca_file: str | None = None, cert: str | None = None, key: str | None = None) -> Iterator[None]:
    """Dask's own TLS configuration for the clients made inside: ``distributed.comm.tls.ca-file``,
    ``.client.cert``, ``.client.key`` and ``distributed.comm.require-encryption``. Nothing given:
    Dask's configuration is left as it is (its YAML files and ``DASK_DISTRIBUTED__COMM__TLS__*``
    variables still apply). A CA without a certificate (or the reverse), or a file that is not
    there, is one line."""
    if not (ca_file or cert or key):
        yield
        return
    if not ca_file or not cert:
        raise ClusterError("a tls:// scheduler needs both --tls-ca-file (the CA) and --tls-cert (this client's "
                           "certificate, with --tls-key when the key is a file of its own)")
    for flag, path in (("--tls-ca-file", ca_file), ("--tls-cert", cert), ("--tls-key", key)):
        if path is not None and not os.path.isfile(path):
            raise ClusterError(f"{flag} {path!r} is not a file; give the PEM file made for this cluster")
    require_distributed()
    import dask

    config = {"distributed.comm.tls.ca-file": os.path.abspath(ca_file),
              "distributed.comm.tls.client.cert": os.path.abspath(cert),
              "distributed.comm.require-encryption": True}
    if key:
        config["distributed.comm.tls.client.key"] = os.path.abspath(key)
    with dask.config.set(config):
        yield


class WorkerWatch:
    """Counts, while a job runs, the workers that left the cluster (``lost``) and the tasks of
    ``keys`` the scheduler ran again because their worker died (``retried``); call :meth:`poll`
    now and then (one scheduler round trip each)."""

    def __init__(self, client, keys=()):
        self.client = client
        self.keys = list(keys)
        self.seen: set[str] = set(client.scheduler_info().get("workers", {}))
        self.gone: set[str] = set()
        self.retried = 0

    @property
    def lost(self) -> int:
        return len(self.gone)

    def poll(self) -> None:
        now = set(self.client.scheduler_info().get("workers", {}))
        self.gone |= self.seen - now
        self.seen |= now
        if self.keys:
            keys = set(self.keys)

            def suspicious(dask_scheduler):  # defined here: pickled by value, the scheduler needs no featx
                return sum(getattr(ts, "suspicious", 0) for k, ts in dask_scheduler.tasks.items() if k in keys)

            try:
                self.retried = max(self.retried, int(self.client.run_on_scheduler(suspicious)))
            except Exception:  # noqa: BLE001 - a count for the progress line, never worth failing a job
                pass
