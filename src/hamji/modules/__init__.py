"""The mechanisms of MODEL.md section 3, one module per file, in the order the weekly plan runs them.

Every module has the same small lifecycle (:class:`hamji.module.Module`): ``setup`` once, ``step``
each week, ``finalize`` at the end. The list below *is* the weekly plan (``hamji plan`` prints it).
"""

from __future__ import annotations

from hamji.module import Module
from hamji.modules.population import Population

#: module classes in the order they step each week
PLAN: list[type[Module]] = [
    Population,
]
