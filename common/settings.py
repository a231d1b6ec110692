"""Tables of settings: a frozen dataclass made from Options, and the check of one table of keys.

A group of settings is a sequence of :class:`~featx.common.options.Option` (a spec section, a
fine-tune's parameters). :func:`settings_class` makes the frozen dataclass holding one value per
Option, defaulting to the Option's default, so a new setting is one new Option.
:func:`check_table` checks a mapping of keys (a TOML table, a dict from Python) against the same
Options and collects every problem instead of stopping at the first (:func:`check_array` for an
array of tables); :class:`Problems` gathers them across tables, each prefixed by where it was
found (``backbones[0].model: ...``). :func:`settings_data` and :func:`to_toml` turn the settings
back into plain data and TOML text that reads back to the same values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from featx.common.messages import suggest
from featx.common.options import Option, OptionError, got


@dataclasses.dataclass(frozen=True)
class Table(Option):
    """A key holding a table (or an array of tables) that is parsed on its own: it is a known key
    of its table, but :func:`check_table` leaves its value alone. ``type_doc`` is its value type
    in words."""

    type_doc: str = "table"

    @property
    def doc(self) -> str:
        return self.type_doc


class Problems:
    """Problems collected while checking, each ``"where: message"`` (or just the message)."""

    def __init__(self):
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)


class Settings:
    """The base of every :func:`settings_class`."""

    def as_dict(self) -> dict:
        """The fields as a dict (values as they are)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


#: a usable name (of a source, a backbone...): it goes into table columns and file names
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


def safe_name(text: str) -> str:
    """``text`` made into a usable name (other characters -> ``_``; "" when nothing is left)."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._-")[:64]


def check_names(named: Iterable[tuple[int, str]], array: str) -> list[str]:
    """Problems of the names of an array's entries (``(index, name)``): each must be a usable
    name (:data:`NAME_RE`) and differ from the others."""
    problems, seen = [], {}
    for i, name in named:
        if not NAME_RE.match(name):
            problems.append(f"{array}[{i}].name: {name!r} is not a usable name; use letters, digits and . _ + - (at most 64)")
        if name in seen:
            problems.append(f"{array}[{i}].name: {name!r} is already the name of {array}[{seen[name]}]; give every entry a "
                            "distinct name")
        seen.setdefault(name, i)
    return problems


def join(where: str, name: str) -> str:
    """``where.name`` (just ``name`` at the top level)."""
    return f"{where}.{name}" if where else name


def _field(opt: Option, typed: bool) -> tuple:
    if isinstance(opt.default, Mapping):
        field = dataclasses.field(default_factory=lambda d=opt.default: MappingProxyType(dict(d)))
    else:
        field = dataclasses.field(default=opt.default)
    kind = ((opt.kind | None) if opt.nullable else opt.kind) if typed else Any
    return opt.name, kind, field


def settings_class(name: str, options: Iterable[Option], doc: str, *, base: type | None = None, module: str | None = None,
                   typed: bool = False) -> type:
    """A frozen dataclass ``name`` with one field per Option, in order, defaulting to the
    Option's default (a mapping default becomes a read-only mapping per instance), derived from
    :class:`Settings` and ``base`` (more methods); ``module`` is where the class says it lives (for docs and pickling); ``typed``
    annotates each field with the Option's kind (``kind | None`` when it may be None), else ``Any``.
    The class's ``OPTIONS`` maps each field name to its Option."""
    options = tuple(options)
    namespace = {"__doc__": doc, "__module__": module or __name__, "OPTIONS": MappingProxyType({o.name: o for o in options})}
    return dataclasses.make_dataclass(name, [_field(o, typed) for o in options], bases=(base, Settings) if base else (Settings,),
                                      frozen=True, namespace=namespace)


def check_table(table, options: Mapping[str, Option], where: str = "", *, required: Iterable[str] = ()) -> tuple[dict, list[str]]:
    """Check the keys of ``table`` against ``options`` (name -> Option).

    Returns the checked values, defaults filled in, of every option but the :class:`Table` ones,
    and the problems: a key that is not an option (with close matches and the known keys), a
    value an option refuses, a ``required`` key that is missing, or ``table`` not being a mapping
    (then every value is its default). ``where`` names the table in messages ("" is the top level).
    """
    checked = {k: o for k, o in options.items() if not isinstance(o, Table)}
    values = {k: o.default for k, o in checked.items()}
    if not isinstance(table, Mapping):
        return values, [f"{where}: expected a table, {got(table)}" if where else f"expected a table, {got(table)}"]
    required, problems = frozenset(required), []
    for key in table:
        if key not in options:
            hint = suggest(key, options)
            problems.append(f"{join(where, str(key))}: unknown key{hint}{' ' if hint else '; '}"
                            f"keys of {f'[{where}]' if where else 'the top level'}: {', '.join(options)}")
    for key, opt in checked.items():
        if key in table:
            try:
                values[key] = opt.check(table[key], join(where, key))
            except OptionError as exc:
                problems.append(str(exc))
        elif key in required:
            problems.append(f"{join(where, key)}: missing (required)")
    return values, problems


def check_array(parent: Mapping, name: str, options: Mapping[str, Option], *, required: bool = False,
                required_keys: Iterable[str] = ()) -> tuple[list[tuple[int, dict]], list[str]]:
    """Check ``parent[name]``, an array of tables (``[[name]]``; one ``[name]`` table counts as
    an array of one), each against ``options`` as :func:`check_table` does. Returns
    ``(index, values)`` per entry and the problems; an absent array is a problem when ``required``."""
    value = parent.get(name)
    if value is None:
        return [], [f"{name}: missing (required); add at least one [[{name}]] table"] if required else []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return [], [f"{name}: expected an array of tables ([[{name}]]), {got(value)}"]
    entries, problems = [], [] if value else [f"{name}: is empty; add at least one [[{name}]] table"]
    for i, entry in enumerate(value):
        values, found = check_table(entry, options, f"{name}[{i}]", required=required_keys)
        entries.append((i, values))
        problems += found
    return entries, problems


def settings_data(obj, options: Mapping[str, Option] | None = None) -> dict:
    """The settings of ``obj`` (default: its class's ``OPTIONS``) as plain data: settings
    classes inside it become dicts, tuples lists, mappings dicts; ``None`` becomes the Option's
    ``none_word`` or is left out."""
    out = {}
    for name, opt in (obj.OPTIONS if options is None else options).items():
        value = getattr(obj, name)
        if value is not None or opt.none_word:
            out[name] = opt.none_word if value is None else _data(value)
    return out


def _data(value):
    if hasattr(type(value), "OPTIONS"):
        return settings_data(value)
    if isinstance(value, Mapping):
        return {k: _data(v) for k, v in value.items()}
    return [_data(v) for v in value] if isinstance(value, (list, tuple)) else value


def plain_data(value):
    """Settings given from Python (mappings, lists and tuples at any depth) as dicts and lists,
    to be checked like a parsed TOML file."""
    if isinstance(value, Mapping):
        return {k: plain_data(v) for k, v in value.items()}
    return [plain_data(v) for v in value] if isinstance(value, (list, tuple)) else value


def to_toml(data: Mapping) -> str:
    """Plain settings data as TOML text that ``tomllib`` reads back to the same data (keys whose
    value is None are left out: TOML has no null)."""
    import tomli_w

    def drop_none(v):
        if isinstance(v, Mapping):
            return {str(k): drop_none(x) for k, x in v.items() if x is not None}
        return [drop_none(x) for x in v] if isinstance(v, (list, tuple)) else v

    return tomli_w.dumps(drop_none(data))
