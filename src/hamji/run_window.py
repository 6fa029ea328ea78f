"""The default window of one run (``hamji run``, :func:`hamji.run`, :class:`hamji.sim.Sim`, ``hamji compare``).

Its own light file (no NumPy, no engine), so the command line can show the dates in its help without importing
the simulation; :mod:`hamji.sim` re-exports them.
"""

from __future__ import annotations

import datetime as dt

#: a run's first and last week by default: the model's whole period, 2000 to 2030
DEFAULT_START = dt.date(2000, 1, 3)
DEFAULT_END = dt.date(2030, 12, 30)
