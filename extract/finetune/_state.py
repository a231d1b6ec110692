"""The resume state beside the output (``model.pt.resume``), written atomically after every epoch.

It holds only tensors and plain containers, so it loads with ``torch.load(weights_only=True)``:
the model and optimizer state_dicts, the best weights so far, the early-stopping counter, the
split, the history and the fingerprint of the settings. Randomness needs no saved state: every
epoch reseeds from (seed, epoch).
"""

from __future__ import annotations

import torch

from featx.extract.models._checkpoint import save_atomic
from featx.extract.finetune._errors import ArchitectureMismatchError, ResumeMismatchError
from featx.common.messages import first_line

FORMAT = "featx.finetune-resume"
VERSION = 1


def resume_path(output: str) -> str:
    return f"{output}.resume"


def write_state(path: str, state: dict) -> None:
    """torch.save to a temporary file, fsync, rename (extract's :func:`save_atomic`): a kill leaves
    the old state or the new one; :func:`featx.common.remove_stale_tmp` clears what a kill left."""
    save_atomic({"format": FORMAT, "version": VERSION, **state}, path)


def read_state(path: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = first_line(exc, None)
        raise ResumeMismatchError(
            f"cannot read the resume state {path!r} ({first[:160]}); delete it or pass --overwrite to start again"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ResumeMismatchError(f"{path!r} is not a featx fine-tuning resume state; delete it or pass --overwrite")
    if int(state.get("version", 0)) > VERSION:
        raise ResumeMismatchError(
            f"{path!r} was written by a newer featx (resume format {state.get('version')}); upgrade featx or pass --overwrite"
        )
    return state


def describe_arch(arch: dict) -> str:
    return f"{arch.get('source')}:{arch.get('arch')} with {arch.get('num_classes')} classes"


def check_same(what: str, path: str, old: dict, new: dict, old_arch: dict, new_arch: dict) -> None:
    """Refuse to continue ``path`` (a resume state or a finished checkpoint) made otherwise."""
    if (old_arch.get("source"), old_arch.get("arch"), old_arch.get("num_classes")) != (
            new_arch.get("source"), new_arch.get("arch"), new_arch.get("num_classes")):
        raise ArchitectureMismatchError(
            f"{path} is {what} of {describe_arch(old_arch)}, not {describe_arch(new_arch)}; rerun with the "
            "original --model, write to another -o, or pass --overwrite to start again"
        )
    keys = sorted(set(old) | set(new))
    differ = [k for k in keys if old.get(k) != new.get(k)]
    if differ:
        shown = ", ".join(f"{k}: {_short(old.get(k))} -> {_short(new.get(k))}" for k in differ[:4])
        more = f" and {len(differ) - 4} more" if len(differ) > 4 else ""
        raise ResumeMismatchError(
            f"{path} is {what} made with other settings ({shown}{more}); rerun the original command to "
            "continue, write to another -o, or pass --overwrite to start again"
        )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
