"""``hamji.ema``: the EMA Workbench adapter (:mod:`hamji.analysis.ema`), under a short name.

Importing it imports the EMA Workbench; nothing in the engine imports it.
"""

from hamji.analysis.ema import DEFAULT_OUTCOMES, HamjiModel, ema_name, model

__all__ = ["DEFAULT_OUTCOMES", "HamjiModel", "ema_name", "model"]
