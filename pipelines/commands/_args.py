"""argparse helpers the subcommands share: flags built from Options, values read back by name."""

from __future__ import annotations

import dataclasses


def add_command(sub, parents, name: str, *, help: str, description: str | None = None, cache: bool = False):
    """The parser of the sub-command ``name``: ``help`` is its line in ``featx --help``,
    ``description`` heads its own ``--help`` (written across lines as it reads best: its white space
    is folded to single spaces, as argparse shows it); ``cache=True`` adds the positional ``cache``
    argument of the commands that read one cache (info, fit, audit, explore, similar)."""
    kw = {} if description is None else {"description": " ".join(description.split())}
    p = sub.add_parser(name, parents=parents, help=help, **kw)
    if cache:
        p.add_argument("cache", help="HDF5 cache written by 'featx extract'")
    return p


def add_options(parser, options, **overrides) -> None:
    """Add each :class:`featx.common.Option` of ``options`` to ``parser`` (flag, choices, default
    and help from the one definition). ``overrides`` maps an option's name to changes for this
    command: ``default`` and ``help`` replace the option's own (the shown default follows), other
    keys go to ``parser.add_argument``."""
    for option in options:
        kw = dict(overrides.get(option.name, {}))
        own = {k: kw.pop(k) for k in ("default", "help") if k in kw}
        dataclasses.replace(option, **own).add_argument(parser, **kw)


def option_values(args, options) -> dict:
    """``{name: value}`` of ``options`` as parsed, leaving out ``None`` (not given: the library's
    own default applies, e.g. ``--workers auto`` or featx's pixel limit)."""
    values = {o.name: getattr(args, o.name) for o in options}
    return {k: v for k, v in values.items() if v is not None}


CLUSTER_HELP = ("where the work runs: unset = this process; 'local:N' = N local Dask worker processes (one thread each, "
                "on 127.0.0.1); or a Dask scheduler address such as tcp://host:8786, or tls://host:8786 with --tls-ca-file, "
                "--tls-cert and --tls-key; the same results as without")


def add_cluster_args(parser) -> None:
    """``--cluster``, ``--scheduler-file``, ``--tls-ca-file``, ``--tls-cert`` and ``--tls-key``
    (featx.common.cluster's Options): the one way every command that can run on a Dask cluster
    gets its cluster flags, with the same help everywhere."""
    from featx.common.cluster import CLUSTER, SCHEDULER_FILE, TLS_OPTIONS

    add_options(parser, (CLUSTER, SCHEDULER_FILE, *TLS_OPTIONS), cluster={"help": CLUSTER_HELP})


def cluster_tls(args):
    """The TLS configuration the command line names (``--tls-*``), as a context manager
    (featx.common.cluster.tls): the clients made inside use it."""
    from featx.common.cluster import tls

    return tls(args.tls_ca_file, args.tls_cert, args.tls_key)


def cluster_client(args, *, announce: bool = True):
    """``connect()`` to the cluster the command line names (a context manager yielding a
    ``distributed.Client``, or None without --cluster / --scheduler-file), through the TLS
    configuration of ``--tls-*``; says where on stderr."""
    import contextlib
    import sys

    from featx.common.cluster import connect, describe

    @contextlib.contextmanager
    def client():
        with cluster_tls(args), connect(args.cluster, scheduler_file=args.scheduler_file) as c:
            if c is not None and announce:
                print(f"{args.command} on a Dask cluster: {describe(c)}", file=sys.stderr)
            yield c

    return client()


def check_destinations(*items) -> None:
    """Refuse, before any work, the output files a command was asked to write: each item is
    ``(path, flag, overwrite)`` (path None: not asked for); every problem of
    featx.common.files.destination_problem is reported together, one line each."""
    from featx.common.files import destination_problem
    from featx.pipelines._errors import PipelineError

    problems = [p for path, flag, overwrite in items if path
                for p in [destination_problem(path, flag, overwrite)] if p]
    if problems:
        raise PipelineError(problems[0] if len(problems) == 1 else
                            f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))
