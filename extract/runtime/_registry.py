"""The runtime registry: one :func:`register_runtime` call gives an inference runtime its name,
its factory and its availability check; ``RUNTIMES`` (``auto`` plus the registered names, read
live) is what the ``runtime`` setting, the CLI's ``--runtime`` and the spec accept. A runtime
registered from Python (before ``featx.extract.extract(..., runtime=NAME)`` or
``featx.pipelines.cli.main([...])`` in the same process) is chosen by name like a built-in one.

Light (no torch): the built-in runtimes (``torch``, ``openvino``) register here on import with
factories that import their heavy modules only when called."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from featx.common.registry import Registry

AUTO = "auto"


@dataclasses.dataclass(frozen=True)
class RuntimeSpec:
    """One registered runtime.

    ``factory(backbone, layers, pool, device, precision, tta, *, threads, cache_dir)`` returns the
    runtime: calling it on a uint8 (N, 3, H, W) batch returns ``{layer: (N, D) float32 array}``;
    it has ``name``, ``layers``, ``spec()`` (recorded in the cache: name, version, precision) and
    ``close()``. ``precision`` arrives as given (``"auto"``, ``"fp32"``, ...). ``available(device)``
    returns None when the runtime can run on that torch device, else the one-line reason."""

    name: str
    factory: Callable | str
    available: Callable
    help: str = ""

    def build(self, *args, **kwargs):
        """``factory(*args, **kwargs)``; a ``"module:function"`` factory is imported first."""
        factory = self.factory
        if isinstance(factory, str):
            import importlib

            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        return factory(*args, **kwargs)


def _registry_error(message: str):
    from featx.extract._errors import ExtractError

    return ExtractError(message)


_RUNTIMES = Registry("runtime", _registry_error, lead=(AUTO,))
BUILTIN_RUNTIMES = ("torch", "openvino")


def _always(device) -> None:
    return None


def register_runtime(name: str, factory: Callable | None = None, *, available: Callable | None = None,
                     help: str = "", replace: bool = False):
    """Register the runtime ``name`` (see :class:`RuntimeSpec`); returns ``factory``, so it also
    works as a decorator. ``available`` defaults to "runs everywhere". A name already registered
    (or ``auto``) is refused unless ``replace=True``."""
    if factory is None:
        return lambda f: register_runtime(name, f, available=available, help=help, replace=replace)
    _RUNTIMES.check_name(name, replace=replace)
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)) or (
            available is not None and not callable(available)):
        raise _registry_error(f"the factory and the available check of runtime {name!r} must be callable")
    _RUNTIMES.add(name, RuntimeSpec(name, factory, available or _always, str(help)), replace=replace,
                  builtin=name in BUILTIN_RUNTIMES)
    return factory


def unregister_runtime(name: str) -> None:
    """Remove a runtime registered with :func:`register_runtime` (built-in runtimes stay)."""
    _RUNTIMES.remove(name)


def runtime_spec(name) -> RuntimeSpec:
    """The registered :class:`RuntimeSpec` of ``name``; the one-line "unknown runtime" message otherwise."""
    return _RUNTIMES.entry(name)


def list_runtimes() -> list[str]:
    """The registered runtime names (built-in ones first; ``auto`` is not one)."""
    return _RUNTIMES.names()


#: ``auto`` and the registered runtimes: the choices of the ``runtime`` setting.
RUNTIMES = _RUNTIMES.choices


# -- the built-in runtimes ------------------------------------------------------------------------

def openvino_missing() -> str | None:
    """Why OpenVINO cannot be imported here (None: it can)."""
    try:
        import openvino  # noqa: F401
    except Exception as exc:  # an ImportError, or a broken native library
        return f"{type(exc).__name__}: {exc}"
    return None


def _openvino_available(device) -> str | None:
    if device.type != "cpu":
        return (f"the OpenVINO runtime runs on the CPU only, not on {device}; "
                "use --device cpu or --runtime torch")
    missing = openvino_missing()
    if missing:
        return (f"--runtime openvino asked but OpenVINO cannot be imported ({missing}); "
                "pip install openvino, or use --runtime torch")
    return None


# the built-in factories live beside the runtimes (featx.extract.runtime._runtime), named as
# "module:function" and imported when first built, so this module stays light
register_runtime("torch", "featx.extract.runtime._runtime:torch_factory", help="eager PyTorch (the GPU path)")
register_runtime("openvino", "featx.extract.runtime._runtime:openvino_factory", available=_openvino_available,
                 help="one compiled OpenVINO model (CPU only)")
