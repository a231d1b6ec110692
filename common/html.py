"""Small HTML building blocks for self-contained pages: escaped text, numbers, tables and PNG
figures inlined as base64 (optionally also written to a folder)."""

from __future__ import annotations

import base64
import html
import math
import os

from featx.common.files import atomic_write


def escape(x) -> str:
    """``str(x)`` escaped for HTML text and attribute values."""
    return html.escape(str(x), quote=True)


def is_number(v) -> bool:
    """True for a value to plot or print: not None, NaN or infinite."""
    return v is not None and not (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))


def number(v, digits: int = 3) -> str:
    """``v`` with ``digits`` decimals, or ``–`` when it is not a number (:func:`is_number`)."""
    return f"{v:.{digits}f}" if is_number(v) else "–"


def figure(png: bytes, alt: str, caption: str, name: str, folder: str | None, wide: bool = False) -> str:
    """A ``<figure>`` with ``png`` inlined; with ``folder`` the PNG is also written there as ``name``.
    ``caption`` is HTML (escape what it quotes)."""
    if folder:
        with atomic_write(os.path.join(folder, name), "wb") as fh:
            fh.write(png)
    b64 = base64.b64encode(png).decode("ascii")
    cls = " class='wide'" if wide else ""
    return (f"<figure{cls}><img alt='{escape(alt)}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{caption}</figcaption></figure>")


def table(head: list[str], rows, num=frozenset()) -> str:
    """An HTML table: ``head`` labels, ``rows`` of cell HTML; the columns in ``num`` are numbers."""
    def cls(i):
        return " class='num'" if i in num else ""

    return ("<table><tr>" + "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(head)) + "</tr>"
            + "".join("<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows) + "</table>")


def kv_table(rows) -> str:
    """A two-column table: each ``(key, value HTML)`` as a header cell (escaped) and a cell."""
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"
