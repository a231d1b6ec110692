"""docs/spec.md's key tables, rendered from the spec's schema (featx.pipelines._spec_docs).

``make docs`` (``python tests/helpers/spec_docs.py``) rewrites the section in docs/spec.md; the
docs test only reads the file and compares it with :func:`with_reference`."""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(REPO, "docs", "spec.md")
START, END = "## Keys\n\n", "### Grid overrides"
REGENERATE = "make docs"


def with_reference(docs: str) -> str:
    """``docs`` (the text of docs/spec.md) with the key tables between ``## Keys`` and ``### Grid
    overrides`` replaced by the ones rendered from the schema now."""
    from featx.pipelines._spec_docs import key_reference

    start, end = docs.index(START) + len(START), docs.index(END)
    return docs[:start] + key_reference() + "\n" + docs[end:]


def main() -> None:
    with open(DOCS, encoding="utf-8") as fh:
        docs = fh.read()
    new = with_reference(docs)
    if new != docs:
        with open(DOCS, "w", encoding="utf-8") as fh:
            fh.write(new)
    print(f"{DOCS}: {'rewritten' if new != docs else 'already up to date'}")


if __name__ == "__main__":
    main()
