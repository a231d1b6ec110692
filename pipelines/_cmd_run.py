"""``featx run``: for now the demo (digits -> default backbone -> cache info)."""

from __future__ import annotations

import os


def register(sub, parents) -> None:
    p = sub.add_parser("run", parents=parents, help="run the built-in demo")
    p.add_argument("--data-dir", default="data", help="where the demo writes its images and cache")
    p.set_defaults(func=run)


def run(args) -> int:
    from featx.extract import cache_info, extract
    from featx.pipelines._cmd_extract import format_info
    from featx.pipelines._demo import write_digits

    folder = write_digits(os.path.join(args.data_dir, "digits"))
    cache = os.path.join(args.data_dir, "digits.h5")
    summary = extract(folder, cache, layers=["blocks.3", "penultimate"])
    print(summary.line())
    print(format_info(cache_info(cache)))
    return 0
