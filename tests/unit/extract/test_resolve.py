"""featx.extract.resolve_layers: the one place layer names are resolved (extraction, the
scikit-learn transformer and the pipeline spec's checks all call it)."""

import dataclasses

import pytest
import torch

from featx.extract import ExtractError, LayerResolution, UnknownLayerError, build_backbone, resolve_layers


@pytest.fixture(scope="module")
def lite0():
    return build_backbone("efficientnet_lite0", "none")


def test_aliases_dims_and_network_order(lite0):
    res = resolve_layers(lite0, ["penultimate", "blocks.3", "blocks.1", "global_pool"])
    assert isinstance(res, LayerResolution)
    assert res.names == ["global_pool", "blocks.3", "blocks.1"]  # requested order, deduplicated
    assert res.aliases == {"global_pool": "penultimate", "blocks.3": "blocks.3", "blocks.1": "blocks.1"}
    assert res.dims == {"global_pool": 1280, "blocks.3": 80, "blocks.1": 24}
    assert res.order["blocks.1"] < res.order["blocks.3"] < res.order["global_pool"]
    assert res.in_network_order() == ["blocks.1", "blocks.3", "global_pool"]
    assert res.problems == []
    names, dims = res  # unpacks as the former (names, dims) pair
    assert names == res.names and dims == res.dims


def test_default_string_and_input_taps(lite0):
    assert resolve_layers(lite0).names == ["global_pool"]  # None -> penultimate
    res = resolve_layers(lite0, " blocks.2 , classifier:in ", "avgmax")
    assert res.names == ["blocks.2", "classifier:in"]
    assert res.dims == {"blocks.2": 2 * 40, "classifier:in": 1280}
    modules = [n for n, _ in lite0.module.named_modules() if n]
    assert res.order["classifier:in"] == modules.index("classifier")


def test_dims_false_does_no_dry_run(lite0):
    calls = []
    handle = lite0.module.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        res = resolve_layers(lite0, ["blocks.1", "blocks.4"], dims=False)
    finally:
        handle.remove()
    assert res.names == ["blocks.1", "blocks.4"] and res.dims == {} and calls == []


def test_strict_raises_the_first_problem_with_close_matches(lite0):
    with pytest.raises(UnknownLayerError, match=r"layer 'blokcs\.2' is not present in efficientnet_lite0; "
                                                r"did you mean 'blocks\.2'.*list the layers with 'featx layers MODEL'"):
        resolve_layers(lite0, ["blocks.1", "blokcs.2", "blocks.99"])
    with pytest.raises(UnknownLayerError, match=r"did you mean 'penultimate'"):
        resolve_layers(lite0, ["penultimat"])
    with pytest.raises(ExtractError, match=r"pool must be one of avg, max, avgmax, none, cls, mean, cls\+mean; got 'median'"):
        resolve_layers(lite0, None, "median")


def test_not_strict_lists_every_problem_and_keeps_the_good_layers(lite0):
    res = resolve_layers(lite0, ["blocks.99", "penultimate", "blokcs.2", "nope:in"], strict=False)
    assert res.names == ["global_pool"] and res.dims == {"global_pool": 1280}
    assert len(res.problems) == 3 and all("\n" not in p for p in res.problems)
    assert res.problems[0].startswith("layer 'blocks.99' is not present in efficientnet_lite0; did you mean")
    assert "did you mean 'blocks.2'" in res.problems[1] and res.problems[2].startswith("layer 'nope:in'")
    bad_pool = resolve_layers(lite0, ["blocks.1"], "median", strict=False)
    assert bad_pool.names == ["blocks.1"] and bad_pool.dims == {} and bad_pool.problems[0].startswith("pool must be")


def test_penultimate_of_a_model_without_linear_head_is_a_problem(lite0):
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    backbone = dataclasses.replace(lite0, module=module)
    res = resolve_layers(backbone, ["penultimate", "1"], strict=False)
    assert res.names == ["1"] and res.dims == {"1": 4} and "'penultimate' is undefined" in res.problems[0]
    with pytest.raises(UnknownLayerError, match="no Linear classifier"):
        resolve_layers(backbone, ["penultimate"])
