"""Measured domain similarity (issue 20): the pretrained lite0's last BatchNorm input statistics on
real ImageNet-like images (hymenoptera) are 'similar', on generated grayscale scan-like slices and
noise textures 'different'; few images, so it stays cheap."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from featx.classify.transfer import domain_similarity, similarity_candidates
from featx.extract import open_source
from featx.extract.finetune import probe_source_model


def _far_domain(root, per_class=6, size=160, seed=0) -> str:
    rng = np.random.default_rng(seed)
    for i in range(per_class):
        for cls in ("scan", "noise"):
            folder = os.path.join(root, cls)
            os.makedirs(folder, exist_ok=True)
            if cls == "noise":
                img = Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
            else:
                img = Image.new("L", (size, size), 0)
                d = ImageDraw.Draw(img)
                a, b = rng.uniform(0.3, 0.4) * size, rng.uniform(0.36, 0.45) * size
                d.ellipse([size / 2 - a, size / 2 - b, size / 2 + a, size / 2 + b], fill=210)
                d.ellipse([size / 2 - a + 8, size / 2 - b + 8, size / 2 + a - 8, size / 2 + b - 8], fill=90)
                img = img.filter(ImageFilter.GaussianBlur(2))
            img.convert("RGB").save(os.path.join(folder, f"{i}.png"))
    return str(root)


def _measure(path, n):
    p = probe_source_model(open_source(path), max_images=n, seed=0)
    bn = (p.bn_mean, p.bn_var, p.bn_running_mean, p.bn_running_var)
    return domain_similarity(p.probs, bn=bn), similarity_candidates(p.probs, bn=bn)


def test_real_hymenoptera_is_similar_and_generated_far_domain_is_different(tmp_path, shared_data):
    real, real_all = _measure(shared_data("hymenoptera"), 12)
    far, far_all = _measure(_far_domain(tmp_path / "far"), 12)
    assert real["method"] == far["method"] == "bn_kl" and real["n_images"] == far["n_images"] == 12
    assert real["verdict"] == "similar" and far["verdict"] == "different"
    assert real["value"] < real["threshold"] < far["value"]
    # the source model is also more confident on the real images (lower prediction entropy)
    assert real_all["entropy"] < far_all["entropy"]


def test_domain_similarity_refuses_a_method_without_its_arrays():
    with pytest.raises(ValueError, match="needs bn="):
        domain_similarity(np.full((3, 10), 0.1))
    with pytest.raises(ValueError, match="must be one of"):
        domain_similarity(np.full((3, 10), 0.1), method="logme")
    sim = domain_similarity(np.full((3, 10), 0.1), method="entropy")
    assert sim["value"] == pytest.approx(1.0) and sim["verdict"] == "different"
