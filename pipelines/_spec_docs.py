"""The key reference of docs/spec.md, rendered from the spec's schema (a test checks that the
file holds exactly this text, so the documentation cannot drift from the code)."""

from __future__ import annotations

import json

from featx.common import to_jsonable
from featx.pipelines._spec import REQUIRED, SCHEMA

_HEADINGS = {"": "top level", "sources": "[[sources]] (one table per source)",
             "backbones": "[[backbones]] (one table per backbone)"}


def _cell(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return (text if text.endswith(".") else text + ".").replace("|", "\\|")


def _default(entry, name: str) -> str:
    if name in REQUIRED:
        return "**required**"
    shown = entry.shown_default
    return "–" if shown is None else f"`{json.dumps(to_jsonable(shown))}`"


def key_reference() -> str:
    """Markdown: one table per spec table with each key's type, default and meaning."""
    out = []
    for table, keys in SCHEMA.items():
        out += [f"### {_HEADINGS.get(table, f'[{table}]')}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for name, entry in keys.items():
            full = f"{table}.{name}" if table else name
            out.append(f"| `{full}` | {entry.doc} | {_default(entry, full)} | {_cell(entry.help)} |")
        out.append("")
    return "\n".join(out)
