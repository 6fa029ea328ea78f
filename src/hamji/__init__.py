"""hamji: an agent-based model of the Hamgyong-Jilin cross-border economy and human security.

Model output is a scenario, not a forecast.
"""

from hamji.analysis.settings import (
    COMPARE_FIRST_SEED,
    COMPARE_SCALE,
    COMPARE_SEEDS,
    DEFAULT_SCALE,
    DEFAULT_SCENARIO,
    DEFAULT_SEEDS,
)
from hamji.version import VERSION

__version__ = VERSION


def run(*args, **kwargs):
    """Run one simulation and return its tidy results (see :func:`hamji.api.run`)."""
    from hamji.api import run as _run

    return _run(*args, **kwargs)


def sensitivity(method: str = "morris", params: list[str] | None = None, outcomes: list[str] | None = None,
                effect: str | None = None, scenario: str = DEFAULT_SCENARIO, samples: int | None = None,
                seeds: int = DEFAULT_SEEDS, scale: int = DEFAULT_SCALE, start: str | None = None, end: str | None = None,
                years: str | None = None,
                groups: str | None = None, declared: bool = False, workers: int = 1, scheduler: str | None = None,
                out: str | None = None):
    """Global sensitivity analysis (see :mod:`hamji.analysis.sensitivity`); returns (indices, experiments)
    DataFrames, as ``hamji sensitivity`` writes them to ``sensitivity.parquet`` and ``experiments.parquet``.
    The window and years default as for every analysis (:mod:`hamji.analysis.settings`)."""
    from pathlib import Path

    from hamji.analysis.sensitivity import sensitivity as _run
    from hamji.analysis.sensitivity import sensitivity_spec

    spec = sensitivity_spec(method, params, outcomes, effect, scenario, samples, seeds, scale, start, end, years, groups, declared)
    return _run(spec, Path(out) if out is not None else None, workers=workers, scheduler=scheduler)


def discover(condition: str, params: list[str] | None = None, effect: str | None = None,
             scenario: str = DEFAULT_SCENARIO, samples: int = 100, seeds: int = DEFAULT_SEEDS, scale: int = DEFAULT_SCALE,
             start: str | None = None, end: str | None = None, years: str | None = None, threshold: float = 0.8,
             declared: bool = False,
             workers: int = 1, scheduler: str | None = None, out: str | None = None):
    """Scenario discovery with PRIM (see :mod:`hamji.analysis.discover`); returns (boxes, experiments)
    DataFrames, as ``hamji discover`` writes them to ``boxes.parquet`` and ``experiments.parquet``."""
    from pathlib import Path

    from hamji.analysis.discover import discover as _run
    from hamji.analysis.discover import discover_spec

    spec = discover_spec(condition, params, effect, scenario, samples, seeds, scale, start, end, years, threshold, declared)
    return _run(spec, Path(out) if out is not None else None, workers=workers, scheduler=scheduler)


def optimize(budget: float = 30e6, objectives: list[str] | None = None, levers: list[str] | None = None,
             trials: int = 24, population: int = 8, seeds: int = DEFAULT_SEEDS, scale: int = DEFAULT_SCALE,
             start: str | None = None, end: str | None = None, years: str | None = None, sampler_seed: int = 1, workers: int = 1,
             scheduler: str | None = None, out: str | None = None):
    """Search the programs' levers under a total budget with NSGA-II (see :mod:`hamji.analysis.policy`);
    returns the frontier DataFrame, as ``hamji optimize`` writes it to ``frontier.parquet``."""
    from pathlib import Path

    from hamji.analysis import policy

    run_ = policy.run_settings(seeds, scale, start, end, years, workers, scheduler)
    spec = policy.optimize_spec(budget, objectives, levers, trials, population, sampler_seed, run_)
    return policy.optimize(spec, Path(out) if out is not None else None)


def robust(designs: list[str], worlds: int = 10, criterion: str = "max:hsi_mean:HamJi",
           satisfice: str | None = None, params: list[str] | None = None, declared: bool = False,
           seeds: int = DEFAULT_SEEDS, scale: int = DEFAULT_SCALE, start: str | None = None, end: str | None = None,
           years: str | None = None,
           workers: int = 1, scheduler: str | None = None, out: str | None = None):
    """Run designs (scenario names, files, ``frontier.parquet[:TRIAL]``) across plausible worlds (see
    :mod:`hamji.analysis.policy`); returns (robustness, worlds) DataFrames, as ``hamji robust`` writes
    them to ``robustness.parquet`` and ``worlds.parquet``."""
    from pathlib import Path

    from hamji.analysis import policy

    run_ = policy.run_settings(seeds, scale, start, end, years, workers, scheduler)
    spec = policy.robust_spec(designs, worlds, criterion, satisfice, params, declared, run_)
    return policy.robust(spec, Path(out) if out is not None else None)


def compare(scenarios: list[str], seeds: int = COMPARE_SEEDS, scale: int | str = COMPARE_SCALE, start: str | None = None,
            end: str | None = None, years: str | tuple[int | None, int | None] | None = None,
            first_seed: int = COMPARE_FIRST_SEED, posterior: str | None = None, workers: int = 1,
            scheduler: str | None = None, out: str | None = None, overwrite: bool = False):
    """Compare scenarios seed by seed (see :mod:`hamji.analysis.compare`; the first is the reference); returns
    (annual, differences) DataFrames, as ``hamji compare`` writes them to ``comparison.parquet`` and
    ``differences.csv`` when ``out`` is given. Its defaults are ``hamji compare``'s
    (:mod:`hamji.analysis.settings`: the whole run 2000-2030, 8 seeds at 1:100, the years in which the scenarios differ)."""
    from pathlib import Path

    from hamji.analysis.compare import compare_spec, run_comparison

    spec = compare_spec(list(scenarios), seeds, scale, start, end, years, first_seed, posterior, workers, scheduler)
    return run_comparison(spec, Path(out) if out is not None else None, overwrite=overwrite)


def __getattr__(name: str):
    """``hamji.ema`` on first use: the EMA Workbench adapter, imported only when asked for (it imports
    the EMA Workbench, which the engine does not need)."""
    if name == "ema":
        import importlib

        return importlib.import_module("hamji.ema")
    raise AttributeError(f"module 'hamji' has no attribute {name!r}")
