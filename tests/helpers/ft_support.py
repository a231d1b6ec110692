"""Shared pieces of the fine-tuning tests (tests/unit/finetune imports them by name, not a conftest).

Small-tensor training is dominated by threading overhead on a busy 2-core machine, so these
tests run torch on one thread (restored afterwards) at a 32-pixel input size.
"""

from __future__ import annotations

import pytest
import torch

from helpers.testdata import write_colour_dataset

TINY = dict(weights="none", input_size=32, batch_size=8, workers=0, progress=False)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def colours8(tmp_path) -> str:
    """3 colour classes x 8 images (6 train + 2 validation each at the default 0.2 split)."""
    return write_colour_dataset(tmp_path / "colours8", per_class=8)


def backbone_keys(state: dict, head: str) -> list[str]:
    return [k for k in state if not (k == head or k.startswith(head + "."))]


class Interrupt(Exception):
    """Raised by :func:`stop_after`'s log: a run stopped right after an epoch's state was written."""


def stop_after(n):
    """A ``log`` for finetune() that interrupts the run at its ``n``-th epoch line."""
    seen = []

    def log(line):
        if line.startswith("epoch "):
            seen.append(line)
            if len(seen) == n:
                raise Interrupt(line)

    return log
