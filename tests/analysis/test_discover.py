"""Scenario discovery (``hamji discover``): the condition parser, PRIM on a known cause, and a run end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hamji.analysis.discover import CASE, parse_condition, prim_boxes
from hamji.analysis.experiments import seed_means
from hamji.cli import app
from hamji.errors import UserError

runner = CliRunner()
#: a tiny design: 20 samples (the fewest allowed) of a quarter of 2010 at 1:50000, about a second a run.
#: leader_share sets the share of revenue paid to the leader's accounts; microlending_default_rate
#: acts only on micro-loans, and the baseline makes none: it cannot change anything
TINY = ["--scale", "50000", "--start", "2010-01-04", "--end", "2010-03-29", "--years", "2010", "--workers", "1",
        "--samples", "20", "--param", "leader_share", "--param", "microlending_default_rate", "--quiet"]
FUND = "leader_fund_usd:DPRK"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("discover") / "out"
    res = runner.invoke(app, ["discover", "--condition", f"{FUND} > 1e8", *TINY, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_a_tiny_discovery_writes_its_files(tiny_run) -> None:
    assert {p.name for p in tiny_run.iterdir()} == {"boxes.parquet", "experiments.parquet", "discover.html"}
    exp = pd.read_parquet(tiny_run / "experiments.parquet")
    assert len(exp) == 20 and {"leader_share", "microlending_default_rate", FUND, CASE} <= set(exp.columns)
    assert exp[CASE].tolist() == (exp[FUND] > 1e8).tolist()
    boxes = pd.read_parquet(tiny_run / "boxes.parquet")
    assert {"box", "coverage", "density", "mass", "param", "low", "high", "qp_low", "qp_high"} <= set(boxes.columns)
    page = (tiny_run / "discover.html").read_text(encoding="utf-8")
    assert "<svg" in page and "20 samples" in page
    assert not any(tag in page for tag in ("<script src", "<link", "<img src"))  # self-contained


def test_prim_restricts_the_parameter_that_decides(tiny_run) -> None:
    means = seed_means(pd.read_parquet(tiny_run / "experiments.parquet").drop(columns=CASE))
    above = (means[FUND] > means[FUND].median()).to_numpy()
    boxes = prim_boxes(means[["leader_share", "microlending_default_rate"]], above, threshold=0.8)
    chosen = boxes[boxes.chosen]
    assert len(chosen) and chosen.density.iloc[0] >= 0.8 and chosen.coverage.iloc[0] >= 0.8
    assert set(chosen.param) == {"leader_share"}  # restricted from below, and nothing else
    assert chosen.low.iloc[0] > means.leader_share.min()


def test_no_case_of_interest_gives_no_box() -> None:
    x = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    assert prim_boxes(x, np.zeros(20, dtype=bool), 0.8).empty
    assert prim_boxes(x, np.ones(20, dtype=bool), 0.8).empty


def test_condition_parser() -> None:
    c = parse_condition("leader_fund_usd:DPRK > 1e7 and hsi_mean:Rest of DPRK <= -0.5", (2016, 2020))
    assert [(x.outcome.name, x.op, x.value) for x in c.clauses] == [("leader_fund_usd:DPRK", ">", 1e7),
                                                                   ("hsi_mean:Rest of DPRK", "<=", -0.5)]
    means = pd.DataFrame({"leader_fund_usd:DPRK": [2e7, 2e7, 0.0], "hsi_mean:Rest of DPRK": [-1.0, 0.0, -1.0]})
    assert c.holds(means).tolist() == [True, False, False]


@pytest.mark.parametrize("text, message", [
    ("", "expected OUTCOME OP NUMBER"),
    ("leader_fund_usd:DPRK == 1e7", "not OUTCOME OP NUMBER"),
    ("leader_fund_usd:DPRK > 1e7 or hsi_mean:HamJi > 0", "not OUTCOME OP NUMBER"),
    ("leader_fund_usd:DPRK > __import__('os')", "not a finite number"),
    ("leader_fund_usd:DPRK > nan", "not a finite number"),
    ("leader_fund_usd > 1", "expected METRIC:REGION"),
    ("nope:DPRK > 1", "unknown metric"),
    ("leader_fund_usd:Atlantis > 1", "unknown region"),
])
def test_condition_errors(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_condition(text, (2016, 2020))


@pytest.mark.parametrize("args, message", [
    (["--condition", "leader_fund_usd:DPRK >> 1"], "--condition"),
    (["--condition", "leader_fund_usd:Atlantis > 1"], "unknown region"),
    (["--condition", "leader_fund_usd:DPRK > 1", "--param", "no_such_parameter"], "unknown parameter"),
    (["--condition", "leader_fund_usd:DPRK > 1", "--samples", "5"], "--samples"),
    (["--condition", "leader_fund_usd:DPRK > 1", "--threshold", "1.5"], "--threshold"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["discover", *args, "--out", str(out), "--quiet"])
    assert res.exit_code == 2 and message in res.output and "error:" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()


def test_python_api_checks_its_input(tmp_path) -> None:
    import hamji

    with pytest.raises(UserError, match="--condition"):
        hamji.discover("leader_fund_usd:DPRK is large", out=str(tmp_path / "a"))
    with pytest.raises(UserError, match="unknown parameter"):
        hamji.discover("leader_fund_usd:DPRK > 1", params=["no_such_parameter"], out=str(tmp_path / "b"))
    with pytest.raises(UserError, match="--samples"):
        hamji.discover("leader_fund_usd:DPRK > 1", samples=3, out=str(tmp_path / "c"))
    assert not any(tmp_path.iterdir())
