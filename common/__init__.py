"""featx.common: the few helpers every featx package needs, written once.

It sits below ``featx.extract``, ``featx.classify`` and ``featx.pipelines`` and imports none of
them (nor torch or scikit-learn), so the import direction stays one way:
``common <- extract``, ``common <- classify``, ``common <- pipelines -> extract, classify``.

- :mod:`featx.common.files` - atomic, durable writes (temporary file, fsync, rename, fsync folder)
- :mod:`featx.common.jsonable` - numpy and friends -> plain JSON data, and its content digest
- :mod:`featx.common.messages` - the wording errors share: suggestions, an exception's first line
- :mod:`featx.common.versions` - installed library versions for provenance and cache keys
- :mod:`featx.common.options` - a setting's choices, default and help, defined once and read by
  the Python API, the CLI and the spec schema
- :mod:`featx.common.settings` - a frozen dataclass made from Options, and the check of one table
  of keys against them (every problem collected)
- :mod:`featx.common.stages` - a long job's timed stages and the lines announcing them
- :mod:`featx.common.lazy` - a package's public names imported on first use (PEP 562)
- :mod:`featx.common.cluster` - where work runs: this process or a Dask cluster
- :mod:`featx.common.registry` - the one table of named entries behind every extension point (heads,
  backbones, inference runtimes, audit checks)
"""

from featx.common.files import atomic_write, fsync_path, remove_stale_tmp, write_json, write_text
from featx.common.jsonable import to_jsonable
from featx.common.options import Option, OptionError
from featx.common.versions import versions

__all__ = ["Option", "OptionError", "atomic_write", "fsync_path", "remove_stale_tmp", "to_jsonable", "versions",
           "write_json", "write_text"]
