"""The parameter registry and scenario files."""

from __future__ import annotations

import pytest

from hamji.errors import UserError
from hamji.parameters import REGISTRY, Parameters, parse_assignment
from hamji.scenario import builtin_names, load_scenario


def test_every_parameter_is_fully_declared():
    assert REGISTRY
    for p in REGISTRY.values():
        assert p.unit and p.source and p.description, p.name
        assert p.low <= (float(p.default) if p.type != "bool" else 0) <= p.high or p.type == "bool", p.name
        src = p.source.lower()
        assert src.startswith(("assumption", "data", "paper", '"', "park", "'",
                               "model.md")) or "data:" in src or "assumption" in src, p.name


def test_unknown_and_out_of_range_are_refused_with_the_allowed_range():
    with pytest.raises(UserError, match="unknown parameter 'nope'"):
        Parameters({"nope": 1})
    with pytest.raises(UserError, match=r"out of range; allowed \[0, 1\]"):
        Parameters({"border_open": 3})
    with pytest.raises(UserError, match="must be a number"):
        Parameters({"border_open": "wide"})


def test_parse_assignment():
    assert parse_assignment("a=1") == ("a", "1")
    with pytest.raises(UserError):
        parse_assignment("a")


def test_builtin_baseline_loads():
    assert "baseline" in builtin_names()
    assert load_scenario("baseline").name == "baseline"


def test_scenario_file_errors_name_file_and_key(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: x\noverrides:\n  border_open: 7\n")
    with pytest.raises(UserError, match=r"s.yaml: overrides: parameter 'border_open' = 7 is out of range"):
        load_scenario(f)
    f.write_text("name: x\nevents:\n  - type: set_parameterz\n    start: 2001-01-01\n    params: {border_open: 0}\n")
    with pytest.raises(UserError, match=r"events\[0\].type: unknown event type 'set_parameterz'; allowed: "):
        load_scenario(f)
    f.write_text("name: x\nevents:\n  - type: set_parameters\n    start: 2001-01-01\n    end: 2000-01-01\n    params: {border_open: 0}\n")
    with pytest.raises(UserError, match="end 2000-01-01 is before start 2001-01-01"):
        load_scenario(f)
    f.write_text("name: x\nbogus: 1\n")
    with pytest.raises(UserError, match="bogus: unknown key"):
        load_scenario(f)
    f.write_text("name: [unclosed\n")
    with pytest.raises(UserError, match=r"s.yaml: line \d+: not valid YAML"):
        load_scenario(f)
    with pytest.raises(UserError, match="no such file"):
        load_scenario(tmp_path / "missing.yaml")


def test_the_split_other_class_parameters_name_their_replacements():
    with pytest.raises(UserError, match="parameter 'ban_other' was split .* use ban_textiles and ban_light"):
        Parameters({"ban_other": True}, where="--set")
    with pytest.raises(UserError, match="capacity_textiles_t"):
        Parameters({"capacity_other_t": 1.0}, where="--set")


def test_no_parameter_shadows_a_method_of_parameters():
    """Values live in the instance dictionary, so a parameter named like a method would hide it."""
    from hamji.parameters import REGISTRY, Parameters

    assert not [n for n in REGISTRY if n in dir(Parameters)]
