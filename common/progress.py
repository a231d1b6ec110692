"""Progress bars on the terminal (tqdm): a bar to update by hand, and a bar behind the
``progress(done, total, label)`` callback that featx.classify's long computations call. Both stay
silent where stderr is not a terminal (tqdm's ``disable=None``), or always with ``enabled=False``."""

from __future__ import annotations


def progress_bar(total: int | None, desc: str, enabled: bool = True, unit: str = "it", leave: bool = True):
    """A tqdm bar of ``total`` steps (``update``, ``set_postfix_str``, ``close``); ``leave=False``
    erases it when closed (an epoch's bar inside a longer job)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=None if enabled else True, dynamic_ncols=True, leave=leave)


def progress_callback(desc: str, enabled: bool = True, unit: str = "fit"):
    """A ``progress(done, total, label)`` callback drawing one bar, opened at the first call
    (when the total is known) and closed when ``done`` reaches it."""
    bar = None

    def update(done: int, total: int, label: str) -> None:
        nonlocal bar
        if bar is None:
            bar = progress_bar(total, desc, enabled, unit)
        bar.set_postfix_str(label[:40], refresh=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update
