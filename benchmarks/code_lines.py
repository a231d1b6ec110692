"""Lines of code per module of the product packages: every line that holds a token of code
(docstrings count), blank and comment-only lines aside. The architecture keeps pipelines/ under
2,000 (issue 11).

    python3 benchmarks/code_lines.py pipelines [extract classify common]
"""

from __future__ import annotations

import io
import os
import sys
import tokenize

SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


def code_lines(path: str) -> int:
    with open(path, encoding="utf-8") as fh:
        tokens = tokenize.generate_tokens(io.StringIO(fh.read()).readline)
        return len({line for t in tokens if t.type not in SKIP for line in range(t.start[0], t.end[0] + 1)})


def main(argv=None) -> int:
    folders = (argv if argv is not None else sys.argv[1:]) or ["pipelines"]
    for folder in folders:
        counts = {os.path.join(d, f): code_lines(os.path.join(d, f))
                  for d, _, files in os.walk(folder) for f in sorted(files) if f.endswith(".py")}
        for path, n in sorted(counts.items(), key=lambda kv: kv[1]):
            print(f"{n:6d}  {path}")
        print(f"{sum(counts.values()):6d}  {folder}/ total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
