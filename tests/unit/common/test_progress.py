"""featx.common.progress: one bar for the job's stages and for classify's progress callbacks."""

from __future__ import annotations

from featx.common.progress import progress_bar, progress_callback


def test_progress_bar_is_silent_when_disabled(capsys):
    bar = progress_bar(3, "cv", enabled=False, unit="config")
    assert bar.total == 3 and bar.disable
    bar.update(3)
    bar.close()
    assert capsys.readouterr().err == ""


def test_progress_callback_draws_one_bar_to_the_end(monkeypatch):
    import tqdm.auto

    bars = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *a, **kw):
            super().__init__(*a, **{**kw, "disable": False})
            bars.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    update = progress_callback("learning curve")
    for done in range(1, 5):
        update(done, 4, f"layer/head {done}")
    assert len(bars) == 1
    bar = bars[0]
    assert bar.total == 4 and bar.n == 4 and bar.desc == "learning curve" and bar.unit == "fit"
    assert "layer/head 4" in bar.postfix and bar.disable  # closed at the end (tqdm disables a closed bar)
