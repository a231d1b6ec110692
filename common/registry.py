"""One table of named entries for an extension point (heads, backbones, inference runtimes, audit
checks), written once: the name rule, the "already registered" and "built in" refusals, the
one-line "unknown ..." message with a suggestion, pattern listing and a live tuple-like view of
the names. Each extension point keeps its own entry type (a frozen dataclass) and its own error
class; :class:`Registry` only holds and checks the names.

Registrations live in the process that made them (a separate ``featx`` process or a cluster
worker does not see them). Configs stay data: a spec or the CLI names a registered entry."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping, Sequence

from featx.common.messages import unknown_choice

#: What a registered name may be: a word of letters, digits, '_', '.' or '-' starting with a letter.
NAME_RULE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
NAME_RULE_TEXT = "a word of letters, digits, '_', '.' or '-' starting with a letter"


class Registry(Mapping):
    """Named entries of one extension point, in registration order (built-in ones first).

    ``what`` names an entry in messages (``"head"``); ``error`` is the exception class raised
    (one line each), ``unknown`` the one :meth:`entry` raises for a name that is not registered
    (default ``error``); ``reserved`` names that can never be registered (with the reason shown);
    ``lead`` names shown before the registered ones by :attr:`choices` (``("auto",)``);
    ``fixed_builtins``: a built-in entry cannot be replaced, even with ``replace=True``.
    A read-only Mapping of name -> entry (``registry[name]`` raises KeyError like a dict).

    >>> r = Registry("colour", ValueError)
    >>> r.add("red", 1, builtin=True); r.add("green", 2)
    >>> r.entry("green"), r["red"], r.names("g*"), tuple(r.choices)
    (2, 1, ['green'], ('red', 'green'))
    """

    def __init__(self, what: str, error: type[Exception], *, reserved: Sequence[str] = (), reserved_why: str = "",
                 lead: Sequence[str] = (), fixed_builtins: bool = False, unknown: type[Exception] | None = None):
        self.what, self.error, self.unknown = what, error, unknown or error
        self.reserved, self.reserved_why = tuple(reserved), reserved_why
        self.lead, self.fixed_builtins = tuple(lead), fixed_builtins
        self._entries: dict[str, object] = {}
        self._builtin: set[str] = set()
        self.choices = _Names(self)

    def check_name(self, name, *, replace: bool = False) -> None:
        """Refuse ``name`` as a new entry: not a word, reserved, a lead name, or already taken
        (unless ``replace``, and never a built-in entry under ``fixed_builtins``)."""
        if not isinstance(name, str) or not NAME_RULE.match(name) or name in self.lead:
            lead = f" (not {', '.join(repr(n) for n in self.lead)})" if self.lead else ""
            article = "an" if self.what[:1] in "aeiou" else "a"
            raise self.error(f"{article} {self.what} name must be {NAME_RULE_TEXT}{lead}; got {name!r}")
        if name in self.reserved:
            raise self.error(f"{self.what} name {name!r} is reserved{self.reserved_why}; pick another name")
        fixed = name in self._builtin and self.fixed_builtins
        if name in self._entries and (fixed or not replace):
            or_replace = "" if fixed else " or pass replace=True"
            raise self.error(f"{self.what} {name!r} is already registered; pick another name{or_replace}")

    def add(self, name: str, entry, *, replace: bool = False, builtin: bool = False) -> None:
        """Register ``entry`` under ``name`` (see :meth:`check_name`)."""
        self.check_name(name, replace=replace)
        self._entries[name] = entry
        if builtin:
            self._builtin.add(name)

    def remove(self, name: str) -> None:
        """Remove a registered entry; built-in entries stay (one-line error)."""
        if name in self._builtin:
            raise self.error(f"{self.what} {name!r} is built in and cannot be removed")
        self.entry(name)
        del self._entries[name]

    def entry(self, name):
        """The entry of ``name``; the one-line "unknown ..." error (suggestion and choices) otherwise."""
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None:
            raise self.unknown(unknown_choice(self.what, name, self.names(), sort=True))
        return entry

    def is_builtin(self, name: str) -> bool:
        return name in self._builtin

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching the shell-style ``pattern`` (``"svm*"``), in registration order."""
        return [n for n in self._entries if fnmatch.fnmatchcase(n, pattern)]

    def __getitem__(self, name):
        return self._entries[name]

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"


class _Names(Sequence):
    """The lead names and the registered names, read live: a tuple-like sequence that the
    settings, the CLI's choices and the spec schema can hold while registrations change."""

    def __init__(self, registry: Registry):
        self._registry = registry

    def _all(self) -> tuple:
        return (*self._registry.lead, *self._registry._entries)

    def __getitem__(self, i):
        return self._all()[i]

    def __len__(self):
        return len(self._all())

    def __contains__(self, name):
        return isinstance(name, str) and name in self._all()

    def __eq__(self, other):
        return isinstance(other, Sequence) and not isinstance(other, str) and tuple(self) == tuple(other)

    __hash__ = object.__hash__

    def __repr__(self):
        return repr(self._all())
