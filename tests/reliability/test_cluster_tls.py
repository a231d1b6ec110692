"""Who may use the cluster: a ``tls://`` Dask scheduler and worker on loopback, with a CA and
certificates made by the test (openssl). featx extract through it (``--scheduler-file`` and
``--cluster tls://...`` with ``--tls-ca-file/--tls-cert/--tls-key``) equals one process; a client
without a certificate, or with one another CA signed, is refused in one line; ``local:N`` listens
on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers.netns import wait_for_text
from helpers.testdata import write_colour_dataset
from featx.extract import extract

from helpers.cluster_models import assert_equal_caches, tiny_checkpoint

DEADLINE = 180  # a hang guard only
DASK = os.path.join(os.path.dirname(sys.executable), "dask")
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is needed to make the test's certificates")


def _openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder, name: str) -> tuple[str, str, str]:
    """A CA and one certificate it signed (for 127.0.0.1, server and client use): (ca, cert, key)."""
    os.makedirs(folder, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}-ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "node.key", "-out", "node.csr",
             cwd=folder)
    with open(os.path.join(folder, "ext.cnf"), "w") as fh:
        fh.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    _openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", "ext.cnf", "-out", "node.pem", cwd=folder)
    return tuple(os.path.join(folder, n) for n in ("ca.pem", "node.pem", "node.key"))


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_ca(str(base / "pki"), "featx")
    tls = ["--tls-ca-file", ca, "--tls-cert", cert, "--tls-key", key]
    sched_file = str(base / "scheduler.json")
    env = dict(os.environ, OMP_NUM_THREADS="1", DASK_DISTRIBUTED__WORKER__DAEMON="False")
    procs = []
    try:
        log = str(base / "scheduler.log")
        with open(log, "ab") as fh:
            procs.append(subprocess.Popen([DASK, "scheduler", "--host", "tls://127.0.0.1", "--port", "0", "--no-dashboard",
                                           "--scheduler-file", sched_file, *tls], stdout=fh, stderr=subprocess.STDOUT,
                                          env=env))
        wait_for_text(log, "Scheduler at:", within=DEADLINE, procs=procs)
        with open(sched_file) as fh:
            address = json.load(fh)["address"]
        assert address.startswith("tls://127.0.0.1:"), address
        wlog = str(base / "worker.log")
        with open(wlog, "ab") as fh:
            procs.append(subprocess.Popen([DASK, "worker", address, "--no-nanny", "--nthreads", "1", "--host", "127.0.0.1",
                                           "--no-dashboard", *tls], stdout=fh, stderr=subprocess.STDOUT, env=env))
        wait_for_text(wlog, "Registered to:", within=DEADLINE, procs=procs)
        yield {"base": base, "address": address, "file": sched_file, "tls": tls, "ca": ca, "cert": cert, "key": key}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls_data")
    src = write_colour_dataset(base / "imgs", per_class=6, size=(64, 48))  # 18 images
    model = tiny_checkpoint(base / "tiny.pt")
    reference = str(base / "one.h5")
    extract(src, reference, model=model, batch_size=2, workers=0, runtime="openvino", progress=False)
    return src, model, reference


def featx(*args, timeout=DEADLINE):
    return subprocess.run([sys.executable, "-m", "featx.pipelines", *args], capture_output=True, text=True, timeout=timeout)


def _extract_args(data, out):
    src, model, _ = data
    return ["extract", src, "-o", out, "--model", model, "--runtime", "openvino", "--batch-size", "2", "--workers", "0",
            "--shard-size", "10"]


@pytest.mark.parametrize("how", ["scheduler-file", "cluster"])
def test_extract_through_a_tls_scheduler_equals_one_process(tls_cluster, data, tmp_path, how):
    out = str(tmp_path / "joined.h5")
    where = ["--scheduler-file", tls_cluster["file"]] if how == "scheduler-file" else ["--cluster", tls_cluster["address"]]
    res = featx(*_extract_args(data, out), *where, *tls_cluster["tls"])
    assert res.returncode == 0, res.stderr
    assert f"on 1 worker(s) at {tls_cluster['address']}" in res.stdout, res.stdout
    assert_equal_caches(data[2], out)


def test_a_client_without_the_right_certificate_is_refused_in_one_line(tls_cluster, data, tmp_path):
    out = str(tmp_path / "joined.h5")
    other_ca, other_cert, other_key = make_ca(str(tmp_path / "other"), "stranger")
    attempts = {
        "no certificate": [],
        "another CA's certificate": ["--tls-ca-file", other_ca, "--tls-cert", other_cert, "--tls-key", other_key],
        "a CA without a certificate": ["--tls-ca-file", tls_cluster["ca"]],
    }
    for what, flags in attempts.items():  # the one line names the way in (the flags) or what was wrong
        res = featx(*_extract_args(data, out), "--cluster", tls_cluster["address"], *flags)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (what, res.stderr)
        assert "Traceback" not in res.stderr, (what, res.stderr)
        assert not os.path.exists(out) and not os.path.exists(out + ".shards/00000.h5"), what  # nothing ran


def test_local_cluster_listens_on_loopback_only():
    from featx.common.cluster import connect

    with connect("local:1") as client:
        address = client.scheduler.address
        workers = list(client.scheduler_info()["workers"])
    assert address.startswith("tcp://127.0.0.1:"), address
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers), workers


def _cv_records(path):
    with open(path) as fh:
        return [{k: v for k, v in r.items() if "time" not in k} for r in json.load(fh)]  # all but timings


def test_cv_through_a_tls_scheduler_equals_no_cluster(tls_cluster, data, tmp_path):
    cache = data[2]
    plain, tls_json = str(tmp_path / "plain.json"), str(tmp_path / "tls.json")
    base = ["cv", cache, "--heads", "logreg", "--folds", "3"]
    res = featx(*base, "--json", plain)
    assert res.returncode == 0, res.stderr
    res = featx(*base, "--json", tls_json, "--cluster", tls_cluster["address"], *tls_cluster["tls"])
    assert res.returncode == 0, res.stderr
    assert f"cv on a Dask cluster: 1 worker(s) at {tls_cluster['address']}" in res.stderr, res.stderr
    assert _cv_records(tls_json) == _cv_records(plain)


def _spec(folder, src, model, address, tls_keys: str) -> str:
    path = os.path.join(folder, "study.toml")
    with open(path, "w") as fh:
        fh.write(f'output = "out"\ncluster = "{address}"\n{tls_keys}'
                 f'[[sources]]\npath = "{src}"\n[[backbones]]\nmodel = "{model}"\n'
                 '[extraction]\nruntime = "openvino"\nbatch_size = 2\nworkers = 0\n'
                 '[classify]\nheads = ["logreg"]\n[cv]\nfolds = 2\nnested = false\n'
                 '[report]\nlearning_curve = false\npca_plot = false\n')
    return path


def test_a_spec_with_tls_keys_runs_through_the_tls_scheduler(tls_cluster, data, tmp_path):
    src, model, _ = data
    pki = tmp_path / "pki"
    shutil.copytree(os.path.dirname(tls_cluster["ca"]), pki)  # relative to the spec file
    refused = featx("run", _spec(str(tmp_path), src, model, tls_cluster["address"], ""))
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and lines[-1].startswith("error: ") and "--tls-ca-file" in lines[-1], refused.stderr
    assert "Traceback" not in refused.stderr
    keys = 'tls_ca_file = "pki/ca.pem"\ntls_cert = "pki/node.pem"\ntls_key = "pki/node.key"\n'
    res = featx("run", _spec(str(tmp_path), src, model, tls_cluster["address"], keys))
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"on a Dask cluster: 1 worker(s) at {tls_cluster['address']}" in res.stdout + res.stderr
    assert os.path.isfile(tmp_path / "out" / "results.json")
