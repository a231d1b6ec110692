"""The transfer study's scratch baseline: the same architecture as the pretrained start, from a
seeded random init, trained in full with the same settings (a FinetuneConfig with
``weights='none'``, ``strategy='full'``)."""

import torch

from featx.extract.finetune import FinetuneConfig, build_model, finetune
from helpers.ft_support import colours8, one_thread  # noqa: F401  (fixtures)


def test_scratch_is_the_same_architecture_from_random_weights():
    pretrained = build_model("efficientnet_lite0", "default", 3, seed=0, input_size=32)
    scratch = build_model("efficientnet_lite0", "none", 3, seed=0, input_size=32)
    again = build_model("efficientnet_lite0", "none", 3, seed=0, input_size=32)
    a, b, c = (m.module.state_dict() for m in (pretrained, scratch, again))
    assert scratch.arch == pretrained.arch and [g.name for g in scratch.groups] == [g.name for g in pretrained.groups]
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
    weights = [k for k in a if k.endswith("weight") and a[k].dtype.is_floating_point and not k.startswith(pretrained.head)]
    assert all(not torch.equal(a[k], b[k]) for k in weights)  # nothing pretrained survives
    assert all(torch.equal(b[k], c[k]) for k in b)  # the random init is seeded: a rerun is the same model
    assert scratch.start["weights"].startswith("none") and pretrained.start["weights"] != scratch.start["weights"]


def test_scratch_trains_every_group_and_its_batchnorm_statistics(colours8, tmp_path):
    cfg = FinetuneConfig(model="efficientnet_lite0", weights="none", strategy="full", epochs=1, patience=0,
                         input_size=32, batch_size=8, workers=0)
    assert cfg.bn_stats_train  # random init has no running statistics worth keeping
    start = build_model("efficientnet_lite0", "none", 3, seed=0, input_size=32).module.state_dict()
    res = finetune(colours8, tmp_path / "scratch.pt", cfg, progress=False)
    assert res.history[0]["unfrozen"] == len(build_model("efficientnet_lite0", "none", 3, input_size=32).groups)
    end = res.module.state_dict()
    stats = [k for k in start if k.endswith("running_mean")]
    assert stats and all(not torch.equal(start[k], end[k]) for k in stats)
