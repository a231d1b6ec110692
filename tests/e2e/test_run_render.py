"""The report renders in a real browser: headless Chromium draws the table and decodes every image.

Skipped when no chromium binary is found, unless FEATX_REQUIRE_CHROMIUM is set (then it fails).
Debian: ``apt-get install chromium``.
"""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

from helpers.chromium import browser, chromium, probe_values
from helpers.pipeline import listed_images, run_tiny

PROBE = """
<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var decoded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0; });
  var table = document.querySelector('table.results');
  var rows = table ? table.querySelectorAll('tbody tr') : [];
  var best = table ? table.querySelectorAll('tbody tr.best') : [];
  var cell = best.length ? getComputedStyle(best[0].querySelector('td')).backgroundColor : '';
  var out = document.createElement('pre');
  out.id = 'featx-probe';
  out.textContent = 'PROBE images=' + imgs.length + ' decoded=' + decoded.length + ' rows=' + rows.length +
    ' best=' + best.length + ' bestbg=' + cell.replace(/ /g, '') +
    ' tablewidth=' + (table ? Math.round(table.getBoundingClientRect().width) : 0) + ' END';
  document.body.appendChild(out);
});
</script>
"""


def test_chromium_renders_table_and_images(tmp_path):
    binary = chromium()
    report = run_tiny(tmp_path)
    with open(report.report_path, encoding="utf-8") as fh:
        page = fh.read()

    # 1. the DOM after load: every image decoded and laid out, the table's rows and highlight
    values = probe_values(binary, page, PROBE, tmp_path)
    # 5 plots, the audit's reliability diagram and 2-D map, and its embedded thumbnails
    # one thumbnail per image the audit lists in results.json (each cluster member, suspect, outlier, issue)
    listed = listed_images(json.loads(open(report.results_path, encoding="utf-8").read())["audit"]["colours"])
    plots, thumbs = page.count("src='data:image/png;base64,"), page.count("src='data:image/jpeg;base64,")
    assert plots == 7 and thumbs == listed and page.count("<img ") == plots + thumbs
    assert int(values["images"]) == plots + thumbs and values["decoded"] == values["images"]
    assert int(values["rows"]) == len(report.records) and int(values["best"]) == 1
    assert values["bestbg"] == "rgb(255,244,194)"  # the highlighted best row
    assert 300 < int(values["tablewidth"]) <= 1280

    # 2. the pixels of the unmodified report: not blank, the highlight painted
    shot = tmp_path / "report.png"
    done = browser(binary, str(tmp_path / "profile2"), "--window-size=1280,1600", f"--screenshot={shot}",
                   "file://" + os.path.abspath(report.report_path))
    assert shot.exists(), done.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (1600, 1280)
    assert img.std() > 20  # text, table and plots drawn, not an empty page
    yellow = (abs(img[..., 0] - 255) < 3) & (abs(img[..., 1] - 244) < 3) & (abs(img[..., 2] - 194) < 3)
    assert yellow.sum() > 2000  # the best-configuration callout and row are painted
