"""The exact baseline regression file (Starsim keeps one): key series of short runs at fixed seeds.

A change that moves any of them beyond the cross-CPU tolerance fails here; when the change of results is
intended, regenerate the file with ``python tests/regression.py --write`` and say why in the commit.
"""

from __future__ import annotations

import regression


def test_key_series_match_the_stored_baseline() -> None:
    both = regression.within_tolerance(regression.load(), regression.compute())
    bad = both[~both.ok]
    assert len(both) == len(regression.load()) > 500
    assert bad.empty, f"{len(bad)} values moved:\n" + bad.drop(columns="_merge").head(15).to_string(index=False)


def test_tolerance_catches_a_real_change() -> None:
    """The comparison is not vacuous: a 1% change in one series, or a missing row, is caught."""
    stored = regression.load()
    moved = stored.copy()
    row = moved.index[(moved.metric == "hsi_mean") & (moved.region == "HamJi")][0]
    moved.loc[row, "value"] *= 1.01
    assert (~regression.within_tolerance(stored, moved).ok).sum() == 1
    assert (~regression.within_tolerance(stored, stored.drop(index=row)).ok).sum() == 1
    assert regression.within_tolerance(stored, stored).ok.all()
