"""The frozen prefix of a fine-tune (``frozen_runtime``): the split, its OpenVINO model against
eager torch on real images, BatchNorm kept frozen, the cached and streaming paths, resume, and
the eager ``torch`` path."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from featx.extract import open_source
from featx.extract.finetune import build_model, finetune
from featx.extract.finetune import _frozen
from featx.extract.finetune._groups import Freezer
from featx.extract.finetune._prefix import plan_split
from featx.extract.images import _loading
from featx.extract.runtime._ovprefix import OpenVINOPrefix
from helpers.testdata import shared_dataset
from helpers.ft_support import TINY, Interrupt, colours8, one_thread, stop_after  # noqa: F401  (fixtures)


def _split(fm, n_trainable, size):
    fr = Freezer(fm.module, fm.groups, fm.head, bn_stats=False)
    fr.set_trainable(n_trainable)
    fr.train()
    split = plan_split(fm.module, fr.frozen_keys(n_trainable), size)
    fm.module.eval()
    return split


def _real_batch(n=6):
    root = shared_dataset("hymenoptera")
    table = open_source(os.path.join(root, "train"))
    fm = build_model("efficientnet_lite0", "default", len(table.class_names))
    pre = fm.preprocessing
    files = [table.absolute(i) for i in range(0, len(table), len(table) // n)][:n]
    ds = _loading.ImageRows(files, pre.pil_transform(), draft_size=_loading.draft_size(pre, True), hashes=False)
    _pos, images, *_ = next(iter(_loading.make_loader(ds, [list(range(len(files)))], 0)))
    return fm, pre.normalize(images)


@pytest.mark.parametrize("n_trainable, boundary", [(0, "global_pool"), (2, "blocks.4"), (5, "blocks.1")])
def test_openvino_prefix_matches_eager_torch_on_real_images(n_trainable, boundary):
    fm, x = _real_batch()
    split = _split(fm, n_trainable, 224)
    assert split.boundary == boundary
    assert split.verify(fm.module, 224) <= 1e-5
    frozen = {k for g in fm.groups[: len(fm.groups) - n_trainable] for k in g.keys}
    assert set(split.keys) <= frozen and any("running_mean" in k for k in split.keys)
    ov = OpenVINOPrefix(fm.module, split.boundary, 224, {"test": split.digest(fm.module)})
    eager = split.prefix(fm.module, x)
    got = ov(x)
    assert got.shape == eager.shape == (len(x), *split.shape)
    # 1e-4 absolute on outputs of order 1, as extraction's runtimes are held to (raw mid-network maps
    # reach ~25, where float32 rounding alone differs by ~1e-4)
    scale = float(eager.abs().max())
    assert float((got - eager).abs().max()) <= 1e-4 * max(1.0, scale)
    # the suffix fed the prefix's output gives the whole model's logits
    with torch.no_grad():
        torch.testing.assert_close(split.suffix(fm.module, got), fm.module(x), atol=1e-4, rtol=1e-4)


def test_prefix_uses_frozen_batchnorm_statistics():
    """Trainable-mode BatchNorm would normalise by the batch: the prefix's output must not
    depend on the other images of its batch."""
    fm, x = _real_batch()
    split = _split(fm, 2, 224)
    ov = OpenVINOPrefix(fm.module, split.boundary, 224, {"test": split.digest(fm.module)})
    alone = ov(x[:1])
    assert float((ov(x)[:1] - alone).abs().max()) == 0.0
    fr = Freezer(fm.module, fm.groups, fm.head, bn_stats=True)
    fr.set_trainable(2)
    fr.train()  # the modes training runs in: frozen groups in eval mode
    assert float((split.prefix(fm.module, x)[:1] - split.prefix(fm.module, x[:1])).abs().max()) <= 1e-5


def test_nothing_to_split_for_full():
    fm = build_model("efficientnet_lite0", "none", 3, input_size=32)
    assert _split(fm, len(fm.groups), 32) is None


def test_frozen_groups_unchanged_and_results_close_to_eager_torch(colours8, tmp_path):
    params = dict(strategy="partial:2", epochs=2, patience=0, augment=False, **TINY)
    fm = build_model("efficientnet_lite0", "none", 3, input_size=32)
    before = {k: v.clone() for k, v in fm.module.state_dict().items()}
    lines = []
    ov = finetune(colours8, tmp_path / "ov.pt", frozen_runtime="openvino", log=lines.append, **params)
    assert any(line.startswith("frozen layers conv_stem..blocks.4 run through OpenVINO") for line in lines)
    eager = finetune(colours8, tmp_path / "torch.pt", frozen_runtime="torch", **params)
    after = ov.module.state_dict()
    frozen = [k for g in fm.groups[:-2] for k in g.keys]
    assert any("running_var" in k for k in frozen)
    assert [k for k in frozen if not torch.equal(before[k], after[k])] == []
    # the same curve within noise: AdamW amplifies the ~1e-6 differences of the forward on a
    # random-weight net, so the runs are close, not equal (the forward itself: the tests above)
    assert ov.history[0]["train_loss"] == pytest.approx(eager.history[0]["train_loss"], rel=0.05)
    for a, b in zip(ov.history, eager.history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=0.05)


def test_cached_prefix_trains_the_same_model_as_streaming(colours8, tmp_path, monkeypatch):
    params = dict(strategy="partial:3", epochs=3, patience=0, augment=False, frozen_runtime="openvino", **TINY)
    cached = finetune(colours8, tmp_path / "cached.pt", **params)
    monkeypatch.setattr(_frozen, "CACHE_BYTES", 0)  # nothing fits: every batch streams through the prefix
    streamed = finetune(colours8, tmp_path / "streamed.pt", **params)
    for a, b in zip(cached.history, streamed.history):
        assert (a["train_loss"], a["val_loss"], a["val_acc"]) == (b["train_loss"], b["val_loss"], b["val_acc"])
    sa, sb = cached.module.state_dict(), streamed.module.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_gradual_replans_the_prefix_each_stage(colours8, tmp_path):
    lines = []
    res = finetune(colours8, tmp_path / "g.pt", strategy="gradual:2", epochs=3, patience=0, augment=False,
                   frozen_runtime="openvino", log=lines.append, **TINY)
    plans = [line.split(" run through")[0] for line in lines if line.startswith("frozen layers")]
    assert plans == ["frozen layers conv_stem..global_pool", "frozen layers conv_stem..blocks.5",
                     "frozen layers conv_stem..blocks.4"]
    assert [h["unfrozen"] for h in res.history] == [0, 1, 2]
    eager = finetune(colours8, tmp_path / "g-torch.pt", strategy="gradual:2", epochs=3, patience=0, augment=False,
                     frozen_runtime="torch", **TINY)
    for a, b in zip(res.history, eager.history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=0.05)


@pytest.mark.parametrize("augment", [True, False])
def test_resume_with_openvino_prefix_equals_uninterrupted(colours8, tmp_path, augment):
    params = dict(strategy="partial:2", epochs=3, patience=0, augment=augment, frozen_runtime="openvino", **TINY)
    clean = finetune(colours8, tmp_path / "clean.pt", **params)
    out = tmp_path / "resumed.pt"
    with pytest.raises(Interrupt):
        finetune(colours8, out, log=stop_after(2), **params)
    resumed = finetune(colours8, out, **params)
    assert resumed.resumed_from == 2
    assert [h["train_loss"] for h in clean.history] == [h["train_loss"] for h in resumed.history]
    sa, sb = clean.module.state_dict(), resumed.module.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_frozen_runtime_is_not_part_of_the_fingerprint(colours8, tmp_path):
    params = dict(strategy="head", epochs=1, **TINY)
    first = finetune(colours8, tmp_path / "m.pt", frozen_runtime="torch", **params)
    again = finetune(colours8, tmp_path / "m.pt", frozen_runtime="openvino", **params)
    assert again.reused and again.best_epoch == first.best_epoch


def test_cli_frozen_runtime_torch_and_bad_value(colours8, tmp_path):
    featx = os.path.join(os.path.dirname(sys.executable), "featx")
    base = [featx, "finetune", colours8, "--weights", "none", "--input-size", "32", "--epochs", "1",
            "--strategy", "partial:2", "--workers", "0"]
    ok = subprocess.run(base + ["-o", str(tmp_path / "t.pt"), "--frozen-runtime", "torch"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "fine-tuned efficientnet_lite0 [partial:2]" in ok.stdout and "OpenVINO" not in ok.stderr
    bad = subprocess.run(base + ["-o", str(tmp_path / "b.pt"), "--frozen-runtime", "onnx"], capture_output=True, text=True)
    assert bad.returncode == 2 and "frozen-runtime" in bad.stderr and "Traceback" not in bad.stderr
    assert not np.any([os.path.exists(tmp_path / "b.pt")])
