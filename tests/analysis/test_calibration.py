"""`hamji calibrate`: a tiny run writes a resumable, self-describing parameter file; the shipped defaults are calibrated."""

from __future__ import annotations

import math

import pytest
import yaml

from hamji.analysis.calibration import CalibrationSpec, calibrate, loss_of
from hamji.analysis.validation import SeriesFit
from hamji.errors import UserError
from hamji.parameters import CALIBRATION, REGISTRY


def test_loss_counts_level_and_shape_and_is_infinite_when_a_series_cannot_be_scored():
    years, data = [2003, 2004, 2005], [100.0, 200.0, 400.0]
    a = SeriesFit("a", years, [200.0, 400.0, 800.0], data).compute()  # right shape, twice the level
    b = SeriesFit("b", years, data, data).compute()  # perfect
    assert loss_of([a, b]) == pytest.approx(math.log(2) / 2)
    empty = SeriesFit("c", [], [], []).compute()
    assert loss_of([a, empty]) == math.inf


def test_unknown_or_fixed_parameters_are_refused_with_the_allowed_names():
    with pytest.raises(UserError, match="unknown parameter 'no_such'.*calibratable: "):
        CalibrationSpec(params=("no_such",)).check()
    fixed = next(n for n, s in REGISTRY.items() if not s.calibrate)
    with pytest.raises(UserError, match=f"'{fixed}' is not declared calibratable"):
        CalibrationSpec(params=(fixed,)).check()


def test_a_tiny_calibration_writes_its_file_and_resumes(tmp_path):
    out = tmp_path / "cal.yaml"
    spec = CalibrationSpec(params=("china_demand_growth", "state_import_share"), trials=2, seeds=1, scale=20000)
    first = calibrate(spec, out)
    written = yaml.safe_load(out.read_text())
    assert written == first
    assert written["how"]["trials"] == 2 and set(written["params"]) == {"china_demand_growth", "state_import_share"}
    # trial 0 is the registry's own defaults: the "before" of the file
    assert written["fit_before"]["params"]["china_demand_growth"] == REGISTRY["china_demand_growth"].prior_default
    assert written["fit_after"]["loss"] <= written["fit_before"]["loss"]
    # resuming adds trials to the same study instead of starting again
    spec.trials = 3
    again = calibrate(spec, out)
    assert again["how"]["trials"] == 3


def test_shipped_defaults_are_the_calibrated_values_and_say_how_they_were_made():
    assert CALIBRATION, "hamji/calibrated.yaml is shipped"
    assert CALIBRATION["how"]["trials"] >= 10
    for name, value in CALIBRATION["params"].items():
        assert REGISTRY[name].calibrate
        assert REGISTRY[name].default == pytest.approx(value)
    assert CALIBRATION["fit_after"]["loss"] < CALIBRATION["fit_before"]["loss"]
