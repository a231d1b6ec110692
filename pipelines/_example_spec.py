"""The commented example spec that ``featx run --print-spec`` prints (every key, with its default
or a typical value): ``example_spec.toml`` beside this module, shipped as package data.
docs/spec.md shows the same text (a test compares them)."""

from importlib.resources import files

EXAMPLE_SPEC = files("featx.pipelines").joinpath("example_spec.toml").read_text(encoding="utf-8")
