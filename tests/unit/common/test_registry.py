"""featx.common.registry.Registry: the one table behind the head, backbone, runtime and audit-check
registries (names, refusals, the unknown-name message, the live view)."""

import pytest

from featx.common.registry import Registry


class Oops(Exception):
    pass


def make() -> Registry:
    r = Registry("widget", Oops, reserved=("leak",), reserved_why=" (a built-in key)", lead=("auto",))
    r.add("plain", 1, builtin=True)
    r.add("fancy", 2)
    return r


def test_entries_in_registration_order_and_pattern_listing():
    r = make()
    assert r.names() == ["plain", "fancy"]
    assert r.names("f*") == ["fancy"]
    assert r.entry("fancy") == 2 and r["fancy"] == 2 and r.get("nope") is None
    assert list(r.items()) == [("plain", 1), ("fancy", 2)]
    assert list(r) == ["plain", "fancy"] and len(r) == 2
    assert "fancy" in r and "auto" not in r and 3 not in r


def test_choices_is_a_live_tuple_like_view_with_the_lead_names_first():
    r = make()
    view = r.choices
    assert tuple(view) == ("auto", "plain", "fancy")
    r.add("late", 3)
    assert tuple(view) == ("auto", "plain", "fancy", "late")
    assert view == ("auto", "plain", "fancy", "late") and view != "auto"
    assert "late" in view and "auto" in view and "nope" not in view
    r.remove("late")
    assert tuple(view) == ("auto", "plain", "fancy") and view[-1] == "fancy" and len(view) == 3


@pytest.mark.parametrize("name, message", [
    ("fancy", "widget 'fancy' is already registered; pick another name or pass replace=True"),
    ("auto", "a widget name must be a word of letters, digits, '_', '.' or '-' starting with a letter (not 'auto'); got 'auto'"),
    ("no spaces", "a widget name must be a word of letters, digits, '_', '.' or '-' starting with a letter (not 'auto'); got 'no spaces'"),
    (7, "a widget name must be a word of letters, digits, '_', '.' or '-' starting with a letter (not 'auto'); got 7"),
    ("leak", "widget name 'leak' is reserved (a built-in key); pick another name"),
])
def test_bad_names_are_refused_with_one_line(name, message):
    r = make()
    with pytest.raises(Oops) as err:
        r.add(name, 9)
    assert str(err.value) == message
    assert r.names() == ["plain", "fancy"]


def test_replace_and_builtins():
    r = make()
    r.add("fancy", 20, replace=True)
    assert r.entry("fancy") == 20
    r.add("plain", 10, replace=True)  # replaceable unless fixed_builtins
    assert r.entry("plain") == 10 and r.is_builtin("plain") and not r.is_builtin("fancy")
    with pytest.raises(Oops, match=r"^widget 'plain' is built in and cannot be removed$"):
        r.remove("plain")
    fixed = Registry("backbone", Oops, fixed_builtins=True)
    fixed.add("lite", 1, builtin=True)
    with pytest.raises(Oops, match=r"^backbone 'lite' is already registered; pick another name$"):
        fixed.add("lite", 2, replace=True)
    assert fixed.entry("lite") == 1


def test_unknown_name_suggests_the_closest_and_lists_the_choices():
    r = make()
    with pytest.raises(Oops) as err:
        r.entry("fanci")
    assert str(err.value) == "unknown widget 'fanci'; did you mean 'fancy'? choose from: fancy, plain"
    with pytest.raises(Oops, match=r"^unknown widget 'zzz'; choose from: fancy, plain$"):
        r.remove("zzz")
