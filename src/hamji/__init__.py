"""hamji: an agent-based model of the Hamgyong-Jilin cross-border economy and human security.

Model output is a scenario, not a forecast.
"""

__version__ = "0.1.0"


def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    """Run one simulation and return its tidy results (see :func:`hamji.api.run`)."""
    from hamji.api import run as _run

    return _run(*args, **kwargs)
