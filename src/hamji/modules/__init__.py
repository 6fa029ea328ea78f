"""The mechanisms of MODEL.md section 3, one module per file, in the order the weekly plan runs them.

Every module has the same small lifecycle (:class:`hamji.module.Module`): ``setup`` once, ``step``
each week, ``finalize`` at the end. The list below *is* the weekly plan (``hamji plan`` prints it).
"""

from __future__ import annotations

from hamji.module import Module
from hamji.modules.china_demand import ChinaDemand
from hamji.modules.distribution import Distribution
from hamji.modules.enforcement import Enforcement
from hamji.modules.exports import Exports
from hamji.modules.funnel import Funnel
from hamji.modules.fx_market import FxMarket
from hamji.modules.human_security import HumanSecurity
from hamji.modules.microlending import Microlending
from hamji.modules.network import Network
from hamji.modules.population import Population
from hamji.modules.remittances import Remittances
from hamji.modules.retail import Retail
from hamji.modules.revenue_bases import RevenueBases
from hamji.modules.training import Training
from hamji.modules.wahku import Wahku
from hamji.modules.wholesale import Wholesale

#: module classes in the order they step each week
PLAN: list[type[Module]] = [
    ChinaDemand,  # driver: Chinese demand sets export prices and volumes
    RevenueBases,  # 1. bases extract coal, ore, seafood, timber
    Wahku,  # 3. yearly quotas, forgery and its detection
    Exports,  # 1. companies sell to Chinese buyers through the crossings
    Funnel,  # 2. revenue to the leader, the branches' budgets and company imports
    Remittances,  # 9. defectors and Yanbian workers send money home
    Microlending,  # intervention: NGO micro-loans to Jilin merchants
    Wholesale,  # 4. Chinese merchants supply NK partners
    Training,  # intervention: training of Jilin merchants (after wholesale declares their skills)
    FxMarket,  # the won's market rate, from this week's foreign-currency flows (retail reads it)
    Distribution,  # 5. goods move inland; ad hoc markets along routes
    Retail,  # 6. prices, margins, wages, consumption, food
    Network,  # 7. ties and market roles
    Enforcement,  # 8. inspections, bribes, fines, detention
    HumanSecurity,  # 10. the human security index
    Population,  # reports population and roles
]
