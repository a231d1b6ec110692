"""featx.common.html: escaped text, numbers, tables and inlined PNG figures."""

from __future__ import annotations

import base64
import io
import math

from PIL import Image

from featx.common.html import escape, figure, is_number, kv_table, number, table


def test_text_and_numbers():
    assert escape("<a href='x'>&</a>") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt;"
    assert escape(3) == "3"
    assert [is_number(v) for v in (0, 1.5, None, math.nan, math.inf, -math.inf)] == [True, True, False, False, False, False]
    assert (number(0.12345), number(2.0, 1), number(None), number(math.nan)) == ("0.123", "2.0", "–", "–")


def test_tables():
    assert table(["a", "n"], [["x", 1], ["y", 2]], {1}) == (
        "<table><tr><th>a</th><th class='num'>n</th></tr><tr><td>x</td><td class='num'>1</td></tr>"
        "<tr><td>y</td><td class='num'>2</td></tr></table>")
    assert kv_table([("a<b", "<b>v</b>")]) == "<table><tr><th>a&lt;b</th><td><b>v</b></td></tr></table>"


def test_figure_inlines_the_png_and_writes_it_only_with_a_folder(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (200, 10, 10)).save(buf, format="PNG")
    png = buf.getvalue()
    html = figure(png, "a 'plot'", "<i>cap</i>", "p.png", str(tmp_path), wide=True)
    assert html.startswith("<figure class='wide'><img alt='a &#x27;plot&#x27;' src='data:image/png;base64,")
    b64 = html.split("base64,")[1].split("'")[0]
    assert base64.b64decode(b64) == png and (tmp_path / "p.png").read_bytes() == png
    assert html.endswith("<figcaption><i>cap</i></figcaption></figure>")
    assert figure(png, "x", "c", "q.png", None).startswith("<figure><img") and not (tmp_path / "q.png").exists()
    assert Image.open(io.BytesIO(base64.b64decode(b64))).size == (3, 2)
