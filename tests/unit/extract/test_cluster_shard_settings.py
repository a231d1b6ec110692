"""A shard file made with other settings is never taken as "unchanged" on a rerun (the plan that
would have refused the rerun lost): it goes through the ordinary extract(), which refuses in one
line to mix features, instead of being joined silently beside shards made otherwise."""

from __future__ import annotations

from helpers.cluster_models import tiny_checkpoint
from helpers.testdata import write_colour_dataset
from featx.extract.cluster._cluster import shard_task
from featx.extract.images._sources import open_source


def test_a_complete_shard_made_with_another_dtype_is_not_reused_as_unchanged(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=2, size=(40, 32))
    settings = dict(model=tiny_checkpoint(tmp_path / "tiny.pt"), weights="default", layers=None, pool="avg",
                    batch_size=2, workers=0, device="cpu", runtime="openvino", precision="auto", dtype="float16",
                    tta="none", max_pixels=None, jpeg_draft=True)
    shard = str(tmp_path / "00000.h5")
    table = open_source(src)
    first = shard_task({"path": shard, "table": table, "overwrite": False, "settings": dict(settings)})
    assert first.get("complete") and not first.get("error"), first
    same = shard_task({"path": shard, "table": table, "overwrite": False, "settings": dict(settings)})
    assert same.get("unchanged") is True, same  # the same settings: skipped without a model
    other = shard_task({"path": shard, "table": table, "overwrite": False, "settings": dict(settings, dtype="float32")})
    assert other.get("unchanged") is not True, other
    assert "error" in other and "dtype" in other["error"] and "\n" not in other["error"], other
