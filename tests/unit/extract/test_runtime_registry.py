"""The runtime registry: torch and openvino are registrations; a user's runtime (a thin wrapper
over the torch one) is chosen by name, gives the torch features and is recorded in the cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featx.extract import RUNTIME, Backbone, ExtractError, ModelSpec, Preprocessing, cache_info, extract, read_cache
from featx.extract.models._weights import state_dict_sha256
from featx.extract.runtime._registry import RUNTIMES, list_runtimes, register_runtime, unregister_runtime
from featx.extract.runtime._runtime import choose_runtime


def _backbone() -> Backbone:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                 torch.nn.Flatten(), torch.nn.Linear(6, 2)).eval()
    return Backbone(module, ModelSpec("tiny_seq", "torchvision", "tiny_seq"), Preprocessing(crop_size=16, resize_size=16),
                    "none (random init, seed 0)", state_dict_sha256(module))


class _Wrapped:
    """A user's runtime: the torch one, under another name, counting its batches."""

    name = "wrapped"
    calls = 0

    def __init__(self, inner):
        self.inner, self.layers = inner, inner.layers

    def __call__(self, x):
        type(self).calls += 1
        return self.inner(x)

    def spec(self):
        return {**self.inner.spec(), "name": self.name}

    def close(self):
        self.inner.close()


@pytest.fixture
def wrapped():
    from featx.extract.runtime._registry import runtime_spec

    torch_runtime = runtime_spec("torch")
    register_runtime("wrapped", lambda *a, **kw: _Wrapped(torch_runtime.build(*a, **kw)), help="torch, wrapped")
    yield
    unregister_runtime("wrapped")


def test_builtins_are_registrations_and_the_setting_follows_the_registry(wrapped):
    assert list_runtimes() == ["torch", "openvino", "wrapped"]
    assert tuple(RUNTIMES) == ("auto", "torch", "openvino", "wrapped") and RUNTIME.check("wrapped") == "wrapped"
    assert choose_runtime("wrapped", torch.device("cpu")) == "wrapped"


def test_a_user_runtime_gives_the_torch_features_and_is_recorded(wrapped, colour_dataset, tmp_path):
    backbone = _backbone()
    layer = "4"
    extract(colour_dataset, tmp_path / "t.h5", backbone=backbone, layers=[layer], runtime="torch", progress=False, workers=0)
    _Wrapped.calls = 0
    extract(colour_dataset, tmp_path / "w.h5", backbone=backbone, layers=[layer], runtime="wrapped", progress=False, workers=0,
            batch_size=5)
    assert _Wrapped.calls == 4  # 18 images in batches of 5: every batch went through the user's runtime
    t, w = read_cache(tmp_path / "t.h5"), read_cache(tmp_path / "w.h5")
    np.testing.assert_array_equal(t.features[layer], w.features[layer])
    assert cache_info(tmp_path / "t.h5")["spec"]["runtime"]["name"] == "torch"
    assert cache_info(tmp_path / "w.h5")["spec"]["runtime"]["name"] == "wrapped"


def test_unknown_unavailable_and_bad_registrations_are_one_line(wrapped):
    with pytest.raises(ExtractError, match=r"^unknown runtime 'nope'; choose from: auto, torch, openvino, wrapped$"):
        choose_runtime("nope", torch.device("cpu"))
    register_runtime("gpu_only", lambda *a, **kw: None, available=lambda d: None if d.type == "cuda" else "gpu_only needs CUDA; use --runtime torch")
    try:
        with pytest.raises(ExtractError, match=r"^gpu_only needs CUDA; use --runtime torch$"):
            choose_runtime("gpu_only", torch.device("cpu"))
    finally:
        unregister_runtime("gpu_only")
    with pytest.raises(ExtractError, match="already registered"):
        register_runtime("torch", lambda *a, **kw: None)
    with pytest.raises(ExtractError, match="not 'auto'"):
        register_runtime("auto", lambda *a, **kw: None)
    with pytest.raises(ExtractError, match="built in"):
        unregister_runtime("openvino")
