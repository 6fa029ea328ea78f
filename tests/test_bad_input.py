"""Bad input never crashes: every mistake is one line on stderr, exit code 2, and nothing written.

Property-based tests (hypothesis) generate malformed scenario files (random bytes, YAML-like text,
valid scenarios with one mistake: a wrong type, key, date or value) and malformed argument lists for
`hamji run`, and check each is refused before any simulation starts: ``Sim.initialize`` and
``Sim.run`` are replaced by a function that raises, so an input that reached the model shows up as
that exception (and no example costs more than milliseconds). Example-based tests cover each class of
mistake by name.
"""

from __future__ import annotations

import calendar
import contextlib
import os
import re
import string
import tempfile
from pathlib import Path

import pytest
import typer
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import hamji
from hamji.api import model_function
from hamji.cli import _OneLineErrors, app, main
from hamji.errors import UserError
from hamji.events import EVENT_TYPES
from hamji.parameters import REGISTRY
from hamji.scenario import MAX_BYTES, MAX_DEPTH, builtin_names, load_scenario
from hamji.sim import SEED_MAX, Sim

runner = CliRunner()
SHORT = ["--scale", "5000", "--start", "2000-01-03", "--end", "2000-03-27", "--quiet"]
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: a valid scenario; each generated document changes it so that it is no longer valid
VALID = {
    "name": "t",
    "description": "a valid scenario",
    "overrides": {"border_open": 0.5},
    "events": [
        {"type": "set_parameters", "start": "2001-01-01", "end": "2002-01-01", "params": {"leader_share": 0.2}},
        {"type": "border_closure", "start": "2020-01-27", "end": "2022-01-17", "params": {"open_share": 0.1}},
    ],
}
NUMERIC = sorted(n for n, p in REGISTRY.items() if p.type != "bool")
BOOLS = sorted(n for n, p in REGISTRY.items() if p.type == "bool")
SEED_TEXT = re.compile(r"\s*[+-]?[0-9]{1,40}\s*")  # text a seed could be read from (if in range)
RUN_OPTIONS = {"--scale", "--seed", "--start", "--end", "--out", "--set", "--overwrite", "--quiet", "--help"}


class Started(Exception):
    """A simulation began: an input got past every check."""


@pytest.fixture(autouse=True)
def no_simulation(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise Started("an input reached the simulation")

    monkeypatch.setattr(Sim, "initialize", refuse)
    monkeypatch.setattr(Sim, "run", refuse)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@contextlib.contextmanager
def workspace():
    """A fresh folder, made the current one (so a default `runs/` folder would be seen)."""
    with tempfile.TemporaryDirectory() as d, contextlib.chdir(d):
        yield Path(d)


def invoke(args: list[str], folder: Path):
    before = _files(folder)
    res = runner.invoke(app, args)
    return res, before


def assert_refused(res, folder: Path, before: list[str], *fragments: str) -> str:
    """Exit 2, one line on stderr starting ``error:``, nothing on stdout, no traceback, nothing written."""
    assert not isinstance(res.exception, Started), "the input reached the simulation"
    assert res.exit_code == 2, (res.exit_code, res.output, repr(res.exception))
    assert isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert res.stdout == ""
    assert _files(folder) == before, "something was written"
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def refused_file(content: bytes | str, *fragments: str, name: str = "s.yaml") -> str:
    """Write ``content`` as a scenario file and run it; it must be refused."""
    with workspace() as w:
        f = w / name
        f.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        res, before = invoke(["run", str(f), *SHORT, "--out", str(w / "out")], w)
        return assert_refused(res, w, before, *fragments)


def refused_args(args: list[str], *fragments: str) -> str:
    with workspace() as w:
        res, before = invoke(args, w)
        return assert_refused(res, w, before, *fragments)


def dump(doc) -> str:
    """YAML text of ``doc``, with date-like strings unquoted (so YAML would read them as dates)."""
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    return re.sub(r"'([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})'", r"\1", text)


def valid_doc() -> dict:
    return yaml.safe_load(yaml.safe_dump(VALID))


# ---- generators of mistakes ------------------------------------------------------------------------

@st.composite
def impossible_dates(draw) -> str:
    """Text shaped like YYYY-MM-DD that is no day of the calendar (30 February, month 13, day 0)."""
    year = draw(st.integers(1000, 9999))
    kind = draw(st.sampled_from(["day", "month", "zero"]))
    if kind == "month":
        return f"{year}-{draw(st.integers(13, 99))}-{draw(st.integers(1, 28)):02d}"
    if kind == "zero":
        return f"{year}-{draw(st.integers(0, 12)):02d}-00"
    month = draw(st.sampled_from([m for m in range(1, 13) if calendar.monthrange(year, m)[1] < 31]))
    return f"{year}-{month:02d}-{draw(st.integers(calendar.monthrange(year, month)[1] + 1, 31))}"


not_a_date = st.one_of(
    impossible_dates(),
    st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.booleans(), st.lists(st.integers(), max_size=2),
    st.sampled_from(["yesterday", "2021/01/01", "2021-01-01T10:00:00", "2021-01-01 10:00", "01-02-2021", ""]),
)
#: numbers that are not whole: n + a fraction, NaN and the infinities
FRACTIONS = st.one_of(st.tuples(st.integers(-10**9, 10**9), st.sampled_from([0.5, 0.25, 0.1, 0.999])).map(sum),
                      st.sampled_from([float("nan"), float("inf"), -float("inf")]))
wrong_type = st.sampled_from([None, 5, 1.5, True, "text", [1, 2], {"a": 1}])
new_key = st.text(min_size=1, max_size=20)


@st.composite
def out_of_range(draw, name: str) -> float:
    p = REGISTRY[name]
    span = max(abs(p.low), abs(p.high), 1.0)
    frac = draw(st.floats(0.01, 100.0))
    return draw(st.sampled_from([p.high + span * frac, p.low - span * frac, float("nan"), float("inf"), -float("inf")]))


@st.composite
def bad_documents(draw) -> str:
    """A valid scenario with one mistake in it, as YAML text."""
    doc = valid_doc()
    event = draw(st.sampled_from([0, 1]))
    ev = doc["events"][event]
    kind = draw(st.sampled_from([
        "top_key", "name", "overrides_name", "overrides_range", "overrides_type", "overrides_bool", "overrides_shape",
        "events_shape", "event_shape", "event_key", "event_missing", "event_type", "event_date", "event_order",
        "params_shape", "params_name", "params_range", "params_empty", "named_range", "named_key", "groups",
        "deep", "duplicate", "tag", "alias",
    ]))
    if kind == "top_key":
        doc[draw(new_key.filter(lambda k: k not in VALID and k != "groups"))] = 1
    elif kind == "name":
        doc["name"] = draw(st.sampled_from([None, 5, 1.5, True, [], {}, "", "   ", "a\nb", "x" * 201]))
    elif kind == "overrides_name":
        doc["overrides"][draw(new_key.filter(lambda k: k not in REGISTRY))] = 1
    elif kind == "overrides_range":
        name = draw(st.sampled_from(NUMERIC))
        doc["overrides"][name] = draw(out_of_range(name))
    elif kind == "overrides_type":
        doc["overrides"][draw(st.sampled_from(NUMERIC))] = draw(st.sampled_from([None, True, [1], {"a": 1}, "abc", "1,5"]))
    elif kind == "overrides_bool":
        doc["overrides"][draw(st.sampled_from(BOOLS))] = draw(st.sampled_from([2, 0.5, "maybe", [], None]))
    elif kind == "overrides_shape":
        doc["overrides"] = draw(st.sampled_from([[1, 2], "x", 5]))
    elif kind == "events_shape":
        doc["events"] = draw(st.sampled_from([{"a": 1}, "x", 5, None]))
    elif kind == "event_shape":
        doc["events"][event] = draw(st.sampled_from([5, "x", [1], None]))
    elif kind == "event_key":
        ev[draw(new_key.filter(lambda k: k not in ("type", "start", "end", "params")))] = 1
    elif kind == "event_missing":
        del ev[draw(st.sampled_from(["type", "start"]))]
    elif kind == "event_type":
        ev["type"] = draw(st.one_of(new_key.filter(lambda k: k not in EVENT_TYPES), wrong_type))
    elif kind == "event_date":
        ev[draw(st.sampled_from(["start", "end"]))] = draw(not_a_date)
    elif kind == "event_order":
        ev["start"], ev["end"] = "2005-06-01", draw(st.sampled_from(["2005-05-31", "2001-01-01", "1999-12-31"]))
    elif kind == "params_shape":
        ev["params"] = draw(st.sampled_from([5, "x", [1], None]))
    elif kind == "params_name":
        doc["events"][0]["params"][draw(new_key.filter(lambda k: k not in REGISTRY))] = 1
    elif kind == "params_range":
        name = draw(st.sampled_from(NUMERIC))
        doc["events"][0]["params"][name] = draw(out_of_range(name))
    elif kind == "params_empty":
        doc["events"][0]["params"] = {}
    elif kind == "named_range":
        doc["events"][1]["params"]["open_share"] = draw(st.one_of(st.floats(1.0001, 1e6), st.floats(-1e6, -0.0001),
                                                                 st.sampled_from(["abc", [1], None])))
    elif kind == "named_key":
        doc["events"][1]["params"][draw(new_key.filter(lambda k: k != "open_share"))] = 1
    elif kind == "groups":
        doc["groups"] = draw(st.sampled_from([{"G": ["Mars"]}, {"G": []}, {"Rason": ["Rason"]}, {}, ["Rason"],
                                              {"G": "Rason"}, {"G": ["Rason", "Rason"]}, {"G": [1]}]))
    elif kind == "deep":
        value: object = "x"
        for _ in range(draw(st.integers(MAX_DEPTH, 3 * MAX_DEPTH))):
            value = [value]
        doc["description"] = value
    text = dump(doc)
    if kind == "duplicate":
        text += draw(st.sampled_from(["name: again\n", "overrides: {}\n", "description: twice\n"]))
    elif kind == "tag":
        text = text.replace("name: t", draw(st.sampled_from([
            "name: !!python/object/apply:os.system ['echo pwned']", "name: !!python/name:os.system",
            "name: !!python/object:collections.OrderedDict {}", "name: !!float abc"])), 1)
    elif kind == "alias":
        text = text.replace("name: t", "name: *nowhere", 1)
    return text


def invalid_utf8_bytes() -> st.SearchStrategy[bytes]:
    """Random bytes with a NUL or a byte that never occurs in UTF-8 somewhere in them."""
    never = st.sampled_from([b"\x00", b"\xff", b"\xfe", b"\xc0", b"\xc1", b"\xf8"])
    return st.tuples(st.binary(max_size=300), never, st.binary(max_size=300)).map(b"".join)


yamlish = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["name", "events", "type", "start", "params", "overrides", "groups", ":", ": ", " ", "\n",
                              "  ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!python/object:os.system ", "'", '"',
                              "#", "? ", "|", ">", "2021-02-30", "x", "1", "-1", "\t", "---", "...", "%YAML 1.1",
                              "!!binary ", "~", "<<: "]), max_size=60).map("".join),
)


@st.composite
def bad_run_args(draw, folder: Path) -> list[str]:
    """`hamji run` arguments with one mistake; ``folder`` is the current, empty folder."""
    seed, scale, start, end = "1", "5000", "2000-01-03", "2000-03-27"
    extra: list[str] = []
    scenario: list[str] = []
    out = str(folder / "out")
    kind = draw(st.sampled_from(["seed", "scale", "date", "order", "set", "option", "positional", "missing_value",
                                 "out", "scenario"]))
    if kind == "seed":
        seed = draw(st.one_of(
            st.integers(max_value=-1).map(str), st.integers(min_value=SEED_MAX + 1).map(str),
            FRACTIONS.map(repr),
            st.text(max_size=12).filter(lambda t: SEED_TEXT.fullmatch(t) is None)))
    elif kind == "scale":
        scale = draw(st.one_of(
            st.integers(max_value=0).map(str), st.integers(min_value=100_001).map(str),
            FRACTIONS.map(repr), st.sampled_from(["1:0", "1:", "2:100", "1:1:1", ""]),
            st.text(max_size=8).map(lambda t: t + "x")))
    elif kind == "date":
        bad = draw(st.one_of(impossible_dates(), st.integers(1000, 1899).map(str), st.integers(2101, 9999).map(str),
                             st.text(max_size=10).map(lambda t: t + "x")))
        if draw(st.booleans()):
            start = bad
        else:
            end = bad
    elif kind == "order":
        start, end = "2001-01-01", draw(st.sampled_from(["2000-12-31", "2000-01-03", "1990-01-01"]))
    elif kind == "set":
        how = draw(st.sampled_from(["no_equals", "unknown", "range", "not_a_number", "bool", "twice"]))
        if how == "no_equals":
            extra = ["--set", draw(st.text(max_size=20).filter(lambda t: "=" not in t))]
        elif how == "unknown":
            extra = ["--set", draw(new_key.filter(lambda k: "=" not in k and k.strip() not in REGISTRY)) + "=1"]
        elif how == "range":
            name = draw(st.sampled_from(NUMERIC))
            extra = ["--set", f"{name}={draw(out_of_range(name))!r}"]
        elif how == "not_a_number":
            value = draw(st.text(min_size=1, max_size=10).filter(
                lambda t: any(c not in "0123456789.eE+-_ \t\n\r\x0b\x0c" for c in t)))
            extra = ["--set", f"{draw(st.sampled_from(NUMERIC))}={value}"]
        elif how == "bool":
            value = draw(st.text(max_size=8).filter(
                lambda t: t.strip().lower() not in {"true", "false", "1", "0", "yes", "no", "on", "off"}))
            extra = ["--set", f"{draw(st.sampled_from(BOOLS))}={value}"]
        else:
            extra = ["--set", "border_open=0.5", "--set", "border_open=0.6"]
    elif kind == "option":
        name = draw(st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=12))
        assume("--" + name not in RUN_OPTIONS)
        extra = ["--" + name]
    elif kind == "positional":
        scenario = ["baseline", draw(st.text(min_size=1, max_size=10).filter(lambda t: not t.startswith("-")))]
    elif kind == "missing_value":
        return ["run", *SHORT, "--out", out, draw(st.sampled_from(["--seed", "--scale", "--start", "--end", "--out", "--set"]))]
    elif kind == "out":
        how = draw(st.sampled_from(["under_file", "full", "file", "proc", "nul"]))
        if how in ("under_file", "file", "full"):
            (folder / "afile").write_text("x")
            (folder / "full").mkdir()
            (folder / "full" / "keep").write_text("keep")
            out = {"under_file": str(folder / "afile" / "sub"), "file": str(folder / "afile"),
                   "full": str(folder / "full")}[how]
        elif how == "proc":
            assume(Path("/proc").is_dir())
            out = "/proc/hamji-results"
        else:
            out = str(folder / "a\x00b")
    elif kind == "scenario":
        (folder / "adir").mkdir()
        scenario = [draw(st.sampled_from([str(folder / "adir"), str(folder / "missing.yaml"), "no_such_builtin"]))]
    return ["run", *scenario, "--scale", scale, "--seed", seed, "--start", start, "--end", end, "--out", out, "--quiet",
            *extra]


# ---- property-based tests ----------------------------------------------------------------------------

def test_the_valid_scenario_the_generators_start_from_is_valid(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text(dump(VALID))
    assert load_scenario(f).name == "t"


@FAST
@given(text=bad_documents())
def test_a_scenario_with_one_mistake_is_refused_in_one_line(text):
    refused_file(text, "s.yaml")


@settings(max_examples=80, deadline=None)
@given(data=invalid_utf8_bytes())
def test_binary_and_non_utf8_files_are_refused_in_one_line(data):
    refused_file(data, "s.yaml", "UTF-8")


@settings(max_examples=150, deadline=None)
@given(text=yamlish)
def test_random_yaml_like_text_is_refused_or_accepted_never_crashes(text):
    """Random text is nearly always wrong; if it happens to be a valid scenario, it reaches the run."""
    with workspace() as w:
        f = w / "s.yaml"
        f.write_text(text, encoding="utf-8")
        res, before = invoke(["run", str(f), *SHORT, "--out", str(w / "out")], w)
        if isinstance(res.exception, Started):
            return  # a valid scenario: accepted (the run itself is replaced in these tests)
        assert_refused(res, w, before, "s.yaml")


@FAST
@given(data=st.data())
def test_run_arguments_with_one_mistake_are_refused_in_one_line(data):
    with workspace() as w:
        args = data.draw(bad_run_args(w))
        res, before = invoke(args, w)
        assert_refused(res, w, before)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_the_python_api_refuses_each_mistake_with_a_user_error(data):
    kwargs = data.draw(st.sampled_from([
        {"seed": data.draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=SEED_MAX + 1), st.floats(),
                                     st.text(max_size=5).filter(lambda t: SEED_TEXT.fullmatch(t) is None), st.booleans()))},
        {"scale": data.draw(st.one_of(st.integers(max_value=0), st.integers(min_value=100_001), st.floats(), st.booleans()))},
        {"start": data.draw(impossible_dates())},
        {"end": data.draw(st.one_of(impossible_dates(), st.integers(), st.sampled_from(["1800-01-01", "2200-01-01"])))},
        {"params": data.draw(st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=5), st.integers()))},
        {"params": {data.draw(new_key.filter(lambda k: k not in REGISTRY)): 1}},
        {"params": {"border_open": data.draw(out_of_range("border_open"))}},
        {"scenario": data.draw(st.one_of(st.integers(), st.text(min_size=1, max_size=10).filter(
            lambda t: t not in builtin_names() and not Path(t).exists())))},
        {"annual": data.draw(st.one_of(st.integers(), st.text(max_size=3)))},
    ]))
    with pytest.raises(UserError) as err:
        hamji.run(**kwargs)
    assert "\n" not in str(err.value)


# ---- each class of mistake by name -------------------------------------------------------------------

def test_a_file_that_is_not_utf8_text_is_refused():
    refused_file("name: café\n".encode("latin-1"), "s.yaml", "line 1: not UTF-8 text")
    refused_file(os.urandom(64) + b"\xff", "s.yaml")


def test_a_binary_file_is_refused():
    refused_file(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "s.yaml", "NUL bytes")


def test_control_characters_are_refused_with_their_line():
    refused_file("name: x\ndescription: a\x07b\n", "s.yaml: line 2: character #x0007 is not allowed")


def test_yaml_nested_thousands_of_levels_is_refused():
    refused_file("[" * 5000 + "]" * 5000, "s.yaml", f"nested more than {MAX_DEPTH} levels deep")
    refused_file("name: x\noverrides: " + "{a: " * 3000 + "1" + "}" * 3000, f"more than {MAX_DEPTH} levels")
    refused_file("name: x\ndescription:\n" + "".join(" " * i + "- \n" for i in range(1, 200)), "levels deep")


@pytest.mark.parametrize("where, date", [("start", "2021-02-30"), ("end", "2021-02-30"), ("start", "2023-02-29"),
                                         ("start", "2021-13-01"), ("end", "2021-04-31"), ("start", "2021-00-10")])
def test_an_impossible_date_in_an_event_is_refused(where, date):
    event = {"type": "border_closure", "start": "2020-01-27", "end": "2022-01-17"}
    event[where] = date
    refused_file(dump({"name": "x", "events": [event]}), f"s.yaml: events[0].{where}: {date} is not a date (YYYY-MM-DD)")
    refused_file(dump({"name": "x", "events": [event]}).replace(date, f"'{date}'"), f"events[0].{where}: {date} is not a date")


def test_dates_elsewhere_do_not_crash():
    refused_file("name: 2021-02-30\noverrides:\n  border_open: 2021-02-30\n", "border_open", "2021-02-30")
    refused_file("name: x\ndescription: 2021-02-30\noverrides: {2021-02-30: 1}\n", "unknown parameter '2021-02-30'")
    refused_file("name: x\ngroups:\n  2021-02-30: [Mars]\n", "groups.2021-02-30: unknown region Mars")
    refused_file("name: x\nevents:\n  - {type: border_closure, start: !!timestamp 2021-02-30}\n", "2021-02-30 is not a date")
    refused_file("name: x\nevents:\n  - {type: border_closure, start: 2021-01-01 10:00:00}\n", "is not a date (YYYY-MM-DD)")


def test_event_years_outside_their_parameter_range_are_refused_before_the_run():
    refused_file("name: x\nevents:\n  - {type: sme_incentives, start: 2045-01-01}\n",
                 "events[0] (sme_incentives): parameter 'wholesale_sme_start_year' = 2045 is out of range")


@pytest.mark.parametrize("seed", ["-1", "1.5", "4294967296", "abc", "", "1e3"])
def test_a_negative_fractional_or_huge_seed_is_refused(seed):
    refused_args(["run", *SHORT, "--seed", seed], "--seed", "expected a whole number from 0 to 4294967295")
    refused_args(["run", *SHORT, f"--seed={seed}"], "--seed")


@pytest.mark.parametrize("scale", ["0", "-5", "100001", "1.5", "abc", "1:0", "2:100"])
def test_a_bad_scale_is_refused(scale):
    refused_args(["run", *SHORT, "--scale", scale], "--scale")


@pytest.mark.parametrize("option, value, message", [
    ("--start", "2021-02-30", "expected a date as YYYY-MM-DD"), ("--end", "2021-02-30", "expected a date"),
    ("--start", "yesterday", "expected a date"), ("--start", "0001-01-01", "allowed from 1900-01-01 to 2100-12-31"),
    ("--end", "9999-12-31", "allowed from 1900-01-01 to 2100-12-31")])
def test_bad_start_and_end_are_refused(option, value, message):
    refused_args(["run", *SHORT, option, value], option, message)


def test_end_before_start_is_refused():
    refused_args(["run", *SHORT, "--start", "2001-01-01", "--end", "2000-06-01"], "--end 2000-06-01 is before --start")


@pytest.mark.parametrize("assignment, message", [
    ("leader_share", "expected name=value"), ("=1", "expected name=value"), ("no_such=1", "unknown parameter 'no_such'"),
    ("leader_share=2", "out of range; allowed [0, 1]"), ("leader_share=abc", "must be a number"),
    ("leader_share=nan", "out of range"), ("leader_share=" + "9" * 5000, "out of range"),
    ("forgery_on=maybe", "must be true or false"), ("[/]=1", "unknown parameter '[/]'"),
    ("[bold]x[/bold]=1", "unknown parameter '[bold]x[/bold]'")])
def test_bad_set_values_are_refused(assignment, message):
    refused_args(["run", *SHORT, "--set", assignment], message)


def test_a_parameter_set_twice_is_refused():
    refused_args(["run", *SHORT, "--set", "border_open=0.5", "--set", "border_open=0.6"], "--set border_open: given more than once")


@pytest.mark.parametrize("args, message", [
    (["run", "--bogus"], "hamji run: No such option: --bogus"),
    (["run", "--seed"], "requires an argument"),
    (["run", "baseline", "extra"], "unexpected extra argument"),
    (["scenarios", "show"], "Missing argument"),
    (["scenarios", "bogus"], "No such command 'bogus'"),
    (["bogus"], "No such command 'bogus'"),
    (["compare", "a", "b", "--seeds", "x"], "hamji compare: Invalid value for '--seeds'"),
])
def test_usage_errors_are_one_line_not_a_usage_box(args, message):
    refused_args(args, message)


def test_an_out_folder_under_a_file_is_refused_before_the_run():
    with workspace() as w:
        (w / "afile").write_text("x")
        res, before = invoke(["run", *SHORT, "--out", str(w / "afile" / "sub")], w)
        assert_refused(res, w, before, "--out", "afile", "is a file")
        res, before = invoke(["run", *SHORT, "--out", str(w / "afile")], w)
        assert_refused(res, w, before, "is a file; give a folder")


def test_an_out_folder_in_a_read_only_place_is_refused_before_the_run():
    if Path("/proc").is_dir():  # nobody, not even root, can create a folder in /proc
        refused_args(["run", *SHORT, "--out", "/proc/hamji-results"], "--out /proc/hamji-results: cannot write in /proc")
    if os.geteuid() != 0:
        with workspace() as w:
            ro = w / "ro"
            ro.mkdir()
            ro.chmod(0o500)
            try:
                res, before = invoke(["run", *SHORT, "--out", str(ro / "out")], w)
                assert_refused(res, w, before, "cannot write in")
            finally:
                ro.chmod(0o700)


def test_the_out_check_leaves_nothing_behind_and_accepts_a_writable_place(tmp_path):
    from hamji.output import check_out_dir

    check_out_dir(tmp_path / "new" / "deeper", overwrite=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match="too long"):
        check_out_dir(tmp_path / ("x" * 300), overwrite=False)
    with pytest.raises(UserError, match="current folder"), contextlib.chdir(tmp_path):
        (tmp_path / "f").write_text("x")
        check_out_dir(Path("."), overwrite=True)


@pytest.mark.parametrize("content, message", [
    ("", "empty; expected a mapping with keys name"), ("# only a comment\n", "empty"),
    ("- a\n- b\n", "got a list"), ("hello\n", "got a single value 'hello'"), ("5\n", "got a single value 5"),
])
def test_an_empty_file_or_a_list_or_a_scalar_is_refused(content, message):
    refused_file(content, "s.yaml", message)


def test_a_folder_or_a_missing_file_given_as_scenario_is_refused():
    with workspace() as w:
        (w / "adir").mkdir()
        res, before = invoke(["run", str(w / "adir"), *SHORT, "--out", str(w / "out")], w)
        assert_refused(res, w, before, "is a folder")
        res, before = invoke(["run", str(w / "missing.yaml"), *SHORT, "--out", str(w / "out")], w)
        assert_refused(res, w, before, "no such file, and not a built-in scenario")


def test_duplicate_keys_are_refused():
    refused_file("name: a\nname: b\n", "s.yaml: line 2: not valid YAML (duplicate key 'name')")
    refused_file("name: a\noverrides:\n  border_open: 0.1\n  border_open: 0.2\n", "duplicate key 'border_open'")


@pytest.mark.parametrize("event, message", [
    ("{type: border_closure, start: 2020-01-01, params: 5}", "events[0].params: must be a mapping (key: value), got 5"),
    ("{type: border_closure, start: 2020-01-01, params: null}", "events[0].params: must be a mapping"),
    ("{type: border_closure, start: 5}", "events[0].start: 5 is not a date (YYYY-MM-DD)"),
    ("{type: border_closure, start: 0}", "events[0].start: 0 is not a date"),
    ("{type: 5, start: 2020-01-01}", "events[0].type: must be text, got 5"),
    ("{type: transport, start: 2020-01-01, params: {crossings: 5}}", "a value of the wrong type for a 'transport' event"),
    ("{type: transport, start: 2020-01-01, params: {crossings: null}}", "events[0].params"),
    ("{type: sanctions, start: 2020-01-01, params: {1: true}}", "events[0].params: every key must be text, got 1"),
    ("{start: 2020-01-01}", "events[0].type: missing"),
    ("[1, 2]", "events[0]: must be a mapping with keys type, start, end, params"),
])
def test_events_with_wrong_types_are_refused(event, message):
    refused_file(f"name: x\nevents:\n  - {event}\n", message)


def test_a_file_larger_than_the_limit_is_refused():
    refused_file("name: x\ndescription: " + "a" * MAX_BYTES + "\n", "too large; a scenario file may be at most 1 MB")


@pytest.mark.parametrize("text", [
    "name: !!python/object/apply:os.system ['echo pwned']\n", "name: !!python/name:os.system\n",
    "name: x\noverrides: !!python/object/new:dict {}\n"])
def test_yaml_tags_that_construct_objects_are_refused(text):
    refused_file(text, "not valid YAML (could not determine a constructor for the tag")


def test_numbers_too_long_and_bad_tags_are_refused_with_their_line():
    refused_file("name: x\noverrides:\n  border_open: " + "9" * 5000 + "\n", "line 3: not valid YAML (cannot read")
    refused_file("name: x\noverrides:\n  border_open: !!float abc\n", "line 3: not valid YAML (cannot read abc as float)")


def test_yaml_aliases_cannot_blow_up_a_message():
    lines = ["name: x", "overrides:", "  a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 25)]
    lines += ["  border_open: *a24"]
    message = refused_file("\n".join(lines) + "\n", "unknown parameter 'a0'")
    assert len(message) < 300


def test_groups_are_checked_with_the_file_name():
    refused_file("name: x\ngroups: {G: [Mars]}\n", "s.yaml: groups.G: unknown region Mars; allowed regions: ")
    refused_file("name: x\ngroups: {G: []}\n", "groups.G: give at least one region")
    refused_file("name: x\ngroups: {}\n", "groups: give at least one group")


def test_help_version_and_exit_codes_still_work():
    for args in (["--help"], ["run", "--help"], ["scenarios", "--help"], ["--version"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and res.output
    assert runner.invoke(app, []).exit_code == 2  # no command: the help, on stderr, as before
    probe = typer.Typer(cls=_OneLineErrors)  # a command's own exit code (validate exits 1 on a failed check)

    @probe.command()
    def fail() -> None:
        raise typer.Exit(code=1)

    @probe.command()
    def ok() -> None:
        pass

    assert runner.invoke(probe, ["fail"]).exit_code == 1
    assert runner.invoke(probe, ["ok"]).exit_code == 0


def test_the_console_script_entry_point_gives_one_line(capsys):
    with pytest.raises(SystemExit) as code:
        main(["run", "--seed", "1.5"])
    assert code.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == ["error: --seed '1.5': expected a whole number from 0 to 4294967295"]
    with pytest.raises(SystemExit) as code:
        main(["run", "--no-such-option"])
    assert code.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'hamji = "hamji.cli:main"' in pyproject


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, "seed -1: expected a whole number"), ({"seed": 1.5}, "seed 1.5"), ({"seed": True}, "seed True"),
    ({"scale": 0}, "--scale 0"), ({"start": "2021-02-30"}, "start: 2021-02-30 is not a date"),
    ({"start": "1800-01-01"}, "allowed from 1900-01-01"), ({"start": "2001", "end": "2000"}, "before start"),
    ({"params": [1]}, "params [1]: expected a mapping"), ({"params": {"nope": 1}}, "params: unknown parameter 'nope'"),
    ({"scenario": 5}, "expected a built-in scenario name"), ({"annual": "yes"}, "annual 'yes'"),
])
def test_the_python_api_refuses_bad_arguments_before_running(kwargs, message):
    with pytest.raises(UserError, match=re.escape(message)):
        hamji.run(**kwargs)
    with pytest.raises(UserError):
        Sim(**{k: v for k, v in kwargs.items() if k not in ("params", "annual")} or {"seed": -1})


@pytest.mark.parametrize("kwargs, message", [
    ({"years": (2030, 2021)}, "years (2030, 2021): expected (first, last)"), ({"years": (1990, 2000)}, "within 2000-2030"),
    ({"outcomes": (("a", "no_metric", "HamJi"),)}, "unknown metric 'no_metric'"),
    ({"outcomes": (("a", "hsi_mean", "Mars"),)}, "unknown region 'Mars'"), ({"outcomes": ()}, "expected a list"),
    ({"scenario": "nope"}, "no such file"), ({"seed": -3}, "seed -3"), ({"start": "2021-02-30"}, "is not a date"),
])
def test_model_function_checks_its_arguments_when_made(kwargs, message):
    with pytest.raises(UserError, match=re.escape(message)):
        model_function(**kwargs)
    f = model_function()
    with pytest.raises(UserError, match="leader_share"):
        f(leader_share=2)
