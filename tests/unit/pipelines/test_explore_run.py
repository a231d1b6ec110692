"""featx run writes explore.html beside report.html (the best configuration's rows, out-of-fold
predictions and audit findings) and the report links to it."""

from __future__ import annotations

import json
import os

import numpy as np

from helpers.pipeline import run_tiny


def test_run_writes_an_explore_page_the_report_links_to(tmp_path):
    result = run_tiny(tmp_path)
    page_path = os.path.join(result.output, "explore.html")
    with open(result.report_path, encoding="utf-8") as fh:
        assert "<a href='explore.html'>Explore " in fh.read()
    with open(page_path, encoding="utf-8") as fh:
        page = fh.read()
    start = page.index("id='featx-data'>") + len("id='featx-data'>")
    doc = json.loads(page[start:page.index("</script>", start)])
    (source, audit), = result.audits.items()
    assert doc["paths"] == list(audit["paths"]) and doc["n"] == len(audit["paths"])
    assert doc["label"] == list(audit["labels"]) and doc["pred"] == list(audit["oof_pred"])
    assert doc["map"] == "tsne" and doc["has_audit"]
    assert np.allclose(np.array(doc["x"]) / 10000, np.asarray(audit["map"]["xy"])[:, 0], atol=1e-4)  # the audit's own map
    assert sum(map(bool, doc["issue"])) == len({x["row"] for x in audit["label_issues"]})
    assert doc["thumbs"] and len(doc["thumbs"]["sheets"]) == 1 and doc["thumbs"]["sheets"][0].startswith("data:image/jpeg")
