"""The module lifecycle (hamji.module): declared states, set-up, parameters changed, start, step, end of week."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hamji.module import Module, State
from hamji.modules import PLAN
from hamji.scenario import Scenario, ScenarioSpec
from hamji.sim import Sim


class Probe(Module):
    """Records when each hook runs, and what the parameters were."""

    name = "probe"
    passage = "a test module"
    states = (State("households", "probe_mark", "float32", 7.0), State("households", "goods_stake", "float32"))

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.changed: list[tuple[int, frozenset[str]]] = []

    def setup(self, sim: Sim) -> None:
        assert sim.people.households.probe_mark.dtype == np.float32  # allocated before set-up
        self.calls.append(("setup", sim.week))

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        self.changed.append((sim.week, names))

    def start_week(self, sim: Sim) -> None:
        self.calls.append(("start", sim.week))

    def step(self, sim: Sim) -> None:
        self.calls.append(("step", sim.week))

    def end_week(self, sim: Sim) -> None:
        self.calls.append(("end", sim.week))


def probe_sim(events: list[dict] | None = None) -> tuple[Sim, Probe]:
    spec = ScenarioSpec(name="probe", events=events or [])
    sim = Sim(Scenario(spec, "test"), seed=1, scale=20000, start=dt.date(2000, 1, 3), end=dt.date(2000, 3, 27),
              modules=[*PLAN, Probe])
    return sim, sim.modules[-1]


def test_hooks_run_in_the_documented_order() -> None:
    sim, probe = probe_sim()
    sim.run()
    assert probe.calls[0] == ("setup", -1)
    weekly = probe.calls[1:]
    assert weekly == [(hook, w) for w in range(sim.n_weeks) for hook in ("start", "step", "end")]
    assert (sim.people.households.probe_mark == 7.0).all()  # declared fill
    # told once after set-up, with every parameter, and never again without events
    assert probe.changed == [(-1, frozenset(sim.pars))]


def test_modules_are_told_which_parameters_an_event_changed() -> None:
    sim, probe = probe_sim([{"type": "set_parameters", "start": "2000-02-07", "end": "2000-03-06",
                             "params": {"merchant_margin": 0.2}}])
    sim.run()
    weeks = [w for w, _ in probe.changed]
    assert weeks == [-1, 5, 9] and probe.changed[1][1] == probe.changed[2][1] == frozenset({"merchant_margin"})
    assert sim.pars_version == 2


def test_phases_list_every_hook_a_module_overrides() -> None:
    sim, _ = probe_sim()
    rows = sim.phases()
    phases = [p for p, _, _ in rows]
    assert phases == sorted(phases, key=["events", "parameters", "start of week", "step", "end of week",
                                          "results"].index)  # in the order a week runs them
    assert ("start of week", "probe") in [(p, s) for p, s, _ in rows]
    assert ("end of week", "probe") in [(p, s) for p, s, _ in rows]
    assert [s for p, s, _ in rows if p == "step"] == [m.name for m in sim.modules]


def test_a_state_declared_differently_twice_is_refused() -> None:
    class Clash(Probe):
        name = "clash"
        states = (State("households", "probe_mark", "int8"),)

    spec = ScenarioSpec(name="probe", events=[])
    sim = Sim(Scenario(spec, "test"), seed=1, scale=20000, start=dt.date(2000, 1, 3), end=dt.date(2000, 1, 31),
              modules=[*PLAN, Probe, Clash])
    with pytest.raises(ValueError, match="declared differently"):
        sim.initialize()
