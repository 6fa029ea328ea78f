"""Named interventions and shocks: dated events a scenario file can use by name.

Each named event maps its own short parameter names onto registry parameters (so
``microlending: {budget_usd: 5e6}`` sets ``microlending_budget_usd``), applies them from ``start``
and restores the previous values at ``end``. A few shocks change state instead (the currency
redenomination). A typo in an event name or one of its keys is refused with the allowed names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hamji.errors import UserError
from hamji.events import Event, SetParameters, register
from hamji.parameters import REGISTRY

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def check_keys(where: str, params: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse a key an event does not know, naming the allowed ones."""
    for k in params:
        if k not in allowed:
            raise UserError(f"{where}: params: unknown key '{k}'; allowed: {', '.join(allowed)}")


def number(where: str, params: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    """A numeric event parameter within [lo, hi], or a clear error naming the range."""
    v = params.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= float(v) <= hi:
        raise UserError(f"{where}: params: {key} = {v!r} is out of range; allowed [{lo:g}, {hi:g}]")
    return float(v)


class ParameterEvent(SetParameters):
    """A named event whose keys are short names for registry parameters (``keys``: short → full)."""

    keys: ClassVar[dict[str, str]] = {}
    defaults: ClassVar[dict[str, Any]] = {}  # applied when the scenario does not give the key
    aliases: ClassVar[dict[str, tuple[str, ...]]] = {}  # a key that stands for several keys

    def validate(self) -> None:
        self.params = dict(self.params)
        for alias, parts in self.aliases.items():
            if alias in self.params:
                value = self.params.pop(alias)
                for part in parts:
                    if part in self.params and self.params[part] != value:
                        raise UserError(f"{self.where}: params: '{alias}' ({value!r}) and '{part}'"
                                        f" ({self.params[part]!r}) disagree; '{alias}' stands for {', '.join(parts)}")
                    self.params[part] = value
        unknown = [k for k in self.params if k not in self.keys]
        if unknown:
            allowed = [*self.keys, *self.aliases]
            raise UserError(f"{self.where}: params: unknown key '{unknown[0]}'; allowed: {', '.join(allowed)}")
        full = {self.keys[k]: v for k, v in {**self.defaults, **self.params}.items()}
        missing = [k for k, v in self.keys.items() if v not in REGISTRY]
        if missing:  # a registry change broke the mapping: a bug, not a user error
            raise RuntimeError(f"event {self.type}: parameters {missing} are not declared")
        self.params = full
        super().validate()


@register
class MicrolendingEvent(ParameterEvent):
    type = "microlending"
    description = "NGO micro-lending to Jilin merchants (budget, loan size, interest, term, default, targeting, PPP share)"
    keys = {"budget_usd": "microlending_budget_usd", "loan_size_usd": "microlending_loan_size_usd",
            "interest": "microlending_interest", "term_weeks": "microlending_term_weeks",
            "default_rate": "microlending_default_rate", "target_small": "microlending_target_small",
            "ppp_share": "microlending_ppp_share", "jilin_only": "microlending_regions"}


@register
class BorderClosure(ParameterEvent):
    """The closure as the state made it (2020): a quarantine at the crossings, with harsher border enforcement.

    ``open_share`` is the share of the crossings' goods capacity still usable (freight); ``trips`` the
    share of traders' cross-border trips and small-scale smuggling still made (partners' wholesale and
    their sales to China, imported food carried by traders, new merchant ties); ``couriers`` the share
    of remittance transfers the brokers' couriers still carry. The state enforced the quarantine with a
    buffer zone along the river where guards were ordered to shoot and heavier penalties for smuggling:
    ``guard_strength`` (more guards and detention in the border provinces), ``penalty_multiplier`` (fines
    and detention weeks there) and ``zone_fear`` (freedom from fear lost by border-province households).
    Defaults describe the 2020-21 closure (sanctions_events.csv); a phase of reopening gives its own
    values. Keys not given take these defaults, so ``{open_share: 0.05}`` alone is still a full closure.
    """

    type = "border_closure"
    description = ("a quarantine at the border (2020): goods (open_share, default 0.05), traders' trips and smuggling"
                   " (trips, 0.05), remittance couriers (couriers, 0.3), with harsher border enforcement"
                   " (guard_strength 1, penalty_multiplier 3, zone_fear 0.2)")
    keys = {"open_share": "border_open", "trips": "border_trips_open", "couriers": "border_couriers_open",
            "guard_strength": "border_guard_strength", "penalty_multiplier": "border_penalty_multiplier",
            "zone_fear": "border_zone_fear"}
    # the 2020-21 closure; each an assumption from the record in sanctions_events.csv: freight nearly stopped,
    # people stopped crossing, brokers kept a phone-and-courier channel for part of the money, guards doubled
    # along a buffer zone with orders to shoot, smuggling punished several times as hard
    defaults = {"open_share": 0.05, "trips": 0.05, "couriers": 0.3, "guard_strength": 1.0,
                "penalty_multiplier": 3.0, "zone_fear": 0.2}


@register
class CurrencyShock(Event):
    """A currency redenomination: won savings above an exchange limit lose their value, and the won its value.

    The 2009 redenomination exchanged old won at 100:1 up to a limit per household (prices.csv notes
    "pre-redenomination"; 2010 H1 is currency-reform turmoil). Holdings of won above the limit are
    destroyed (an outflow ``currency_redenomination``); foreign currency is untouched, which is why
    households near the border who held yuan and dollars were protected.

    ``devaluation`` multiplies the won's balanced market rate (the anchor of the ``fx_market`` module, in new won per
    US$ throughout): the state paid wages at their old figures in new won and savers fled the won, so the new won
    lost most of its value against its exchange rate (prices.csv: about 38 new won per US$ before, about 8,000 by
    2013). The default 1 leaves the rate alone.
    """

    type = "currency_shock"
    description = ("won savings above an exchange limit lose a share of their value, and the won's balanced market rate is"
                   " multiplied by devaluation (2009 redenomination)")
    def validate(self) -> None:
        check_keys(self.where, self.params, ("loss_share", "exempt_usd", "devaluation"))
        self.loss_share = number(self.where, self.params, "loss_share", 0.9, 0.0, 1.0)
        self.exempt_usd = number(self.where, self.params, "exempt_usd", 50.0, 0.0, 1e6)
        self.devaluation = number(self.where, self.params, "devaluation", 1.0, 1e-3, 1e4)

    def apply(self, sim: Sim) -> None:
        hh = sim.people.households
        excess = np.maximum(hh.cash - self.exempt_usd, 0.0)
        lost = excess * self.loss_share
        hh.cash -= lost
        sim.books.outflow("currency_redenomination", lost.sum())
        for m in sim.modules:
            if m.name == "fx_market":
                m.devalue(self.devaluation)


@register
class Sanctions(ParameterEvent):
    """Export bans by commodity class, from ``start`` (restored at ``end``).

    The key ``other`` names the former single class of other goods, since split into ``textiles``
    and ``light``: ``other: true`` sets both, so a scenario written before the split bans what it
    banned then. The goods outside the bans (``unbanned``) are a new class the old key never covered.
    """

    type = "sanctions"
    description = ("export bans by commodity (true = banned): coal, iron_ore, seafood, timber, textiles, light,"
                   " unbanned; 'other' = textiles and light (e.g. UNSCR 2371, 2375, 2397)")
    keys = {"coal": "ban_coal", "iron_ore": "ban_iron_ore", "seafood": "ban_seafood", "timber": "ban_timber",
            "textiles": "ban_textiles", "light": "ban_light", "unbanned": "ban_unbanned"}
    aliases = {"other": ("textiles", "light")}


@register
class WahkuCrackdown(ParameterEvent):
    type = "wahku_crackdown"
    description = "the party cracks down on forged wah-ku: detection rises (crackdown strength, default 1)"
    keys = {"strength": "wahku_crackdown"}
    defaults = {"strength": 1.0}


@register
class TrainingEvent(ParameterEvent):
    """Training programs in Jilin; ``prefectures`` (a list of Yanbian, Baishan, Tonghua) is short for the
    three ``in_*`` switches: the prefectures named are served, the others not."""

    type = "training"
    description = ("training programs in Jilin (people trained per year, productivity and quality gains, know-how, cost;"
                   " prefectures served: a list of Yanbian, Baishan, Tonghua, default all)")
    keys = {"trained_per_year": "training_trained_per_year", "productivity_gain": "training_productivity_gain",
            "quality_gain": "training_quality_gain", "knowhow": "training_knowhow", "cost_usd": "training_cost_usd",
            "in_yanbian": "training_in_yanbian", "in_baishan": "training_in_baishan", "in_tonghua": "training_in_tonghua"}
    prefectures: ClassVar[dict[str, str]] = {"Yanbian": "in_yanbian", "Baishan": "in_baishan", "Tonghua": "in_tonghua"}

    def validate(self) -> None:
        params = dict(self.params)
        if "prefectures" in params:
            chosen = params.pop("prefectures")
            chosen = [chosen] if isinstance(chosen, str) else chosen
            if not isinstance(chosen, list) or not chosen or any(c not in self.prefectures for c in chosen):
                raise UserError(f"{self.where}: params: prefectures = {chosen!r}; allowed: a non-empty list of"
                                f" {', '.join(self.prefectures)}")
            for name, key in self.prefectures.items():
                if key in params and bool(params[key]) != (name in chosen):
                    raise UserError(f"{self.where}: params: 'prefectures' ({chosen!r}) and '{key}' ({params[key]!r}) disagree")
                params[key] = name in chosen
        self.params = params
        super().validate()


def crossing_ids() -> list[str]:
    """Ids of the border crossings (world.yaml)."""
    from hamji.world import world_layout

    return list(world_layout()["crossing_regions"])


@register
class TransportInvestment(Event):
    """Transport investment: more capacity at named crossings, cheaper haulage, goods reaching farther inland.

    ``reach_multiplier`` lengthens the distance over which goods still flow inland
    (``distribution_decay_km``): better roads and fewer delays make far markets reachable.

    "As markets expand, transportation needs will grow as demand for goods rises. Through these
    expanded transportation routes, development-focused NGOs and trade promotion agencies can
    disseminate improved techniques and practices" (Park 2009). ``crossings`` is a list of crossing
    ids, or ``jilin`` (the crossings to Yanbian, Baishan and Tonghua) or ``all``.
    """

    type = "transport"
    description = ("crossing capacity (capacity_multiplier at crossings: ids, 'jilin' or 'all'), haulage cost"
                   " (cost_multiplier) and reach of the routes inland (reach_multiplier)")
    allowed = ("crossings", "capacity_multiplier", "cost_multiplier", "reach_multiplier")
    #: bounds of capacity_multiplier (hamji optimize spends no crossing money beyond the upper one)
    capacity_range = (0.1, 20.0)

    def validate(self) -> None:
        check_keys(self.where, self.params, self.allowed)
        ids = crossing_ids()
        sel = self.params.get("crossings", "jilin")
        if isinstance(sel, str) and sel in ("jilin", "all"):
            self.selection: str | list[str] = sel
        else:
            sel = [sel] if isinstance(sel, str) else list(sel)
            bad = [c for c in sel if c not in ids]
            if bad:
                raise UserError(f"{self.where}: params: crossings: unknown crossing '{bad[0]}'; allowed: jilin, all, {', '.join(ids)}")
            self.selection = sel
        self.capacity = number(self.where, self.params, "capacity_multiplier", 1.0, *self.capacity_range)
        self.cost = number(self.where, self.params, "cost_multiplier", 1.0, 0.1, 2.0)
        self.reach = number(self.where, self.params, "reach_multiplier", 1.0, 0.5, 5.0)

    def _mask(self, sim: Sim) -> np.ndarray:
        c = sim.world.crossings
        if self.selection == "all":
            return np.ones(len(c), dtype=bool)
        if self.selection == "jilin":
            return np.isin(c.china_region.to_numpy(), sim.world.groups.get("Jilin", []))
        return c.id.isin(self.selection).to_numpy()

    def apply(self, sim: Sim) -> None:
        sim.borders.investment[self._mask(sim)] *= self.capacity
        self._saved_cost = sim.pars.distribution_usd_per_tkm
        self._saved_reach = sim.pars.distribution_decay_km
        sim.pars.set("distribution_usd_per_tkm", self._saved_cost * self.cost, self.where)
        spec = REGISTRY["distribution_decay_km"]
        sim.pars.set("distribution_decay_km", min(spec.high, self._saved_reach * self.reach), self.where)

    def revert(self, sim: Sim) -> None:
        sim.borders.investment[self._mask(sim)] /= self.capacity
        sim.pars.set("distribution_usd_per_tkm", self._saved_cost, self.where)
        sim.pars.set("distribution_decay_km", self._saved_reach, self.where)


@register
class MarketCrackdown(Event):
    """A market crackdown: more officials inspect traders and more of those caught are detained.

    ``strength`` s multiplies the officials per household by ``1 + s`` and raises the detention
    probability of a case not bought off to ``1 - (1 - p) / (1 + s)`` (both restored at ``end``).
    """

    type = "market_crackdown"
    description = "more officials and more detention in the markets (strength s: officials x (1 + s))"

    def validate(self) -> None:
        check_keys(self.where, self.params, ("strength",))
        self.strength = number(self.where, self.params, "strength", 1.0, 0.0, 9.0)

    def apply(self, sim: Sim) -> None:
        p = sim.pars
        self._saved = (p.officials_per_1000_households, p.detention_prob)
        spec = REGISTRY["officials_per_1000_households"]
        p.set("officials_per_1000_households", min(spec.high, self._saved[0] * (1 + self.strength)), self.where)
        p.set("detention_prob", 1.0 - (1.0 - self._saved[1]) / (1.0 + self.strength), self.where)

    def revert(self, sim: Sim) -> None:
        sim.pars.set("officials_per_1000_households", self._saved[0], self.where)
        sim.pars.set("detention_prob", self._saved[1], self.where)


@register
class SmeIncentives(Event):
    """Chinese SME incentives: "grants and preferential loans" to Jilin firms trading with the North.

    Sets the incentive years to the event's start and end years (end defaults to start + 7) and the
    grant and loan sizes; restores the previous values at ``end``.
    """

    type = "sme_incentives"
    description = "Chinese grants and preferential loans to Jilin merchants trading with the North (grant_usd, loan_usd)"
    keys = {"grant_usd": "wholesale_sme_grant_usd", "loan_usd": "wholesale_sme_loan_usd"}

    def validate(self) -> None:
        check_keys(self.where, self.params, tuple(self.keys))
        self.values = {self.keys[k]: REGISTRY[self.keys[k]].coerce(v, f"{self.where}: params") for k, v in self.params.items()}
        self.values["wholesale_sme_start_year"] = self.start.year
        self.values["wholesale_sme_end_year"] = self.end.year if self.end is not None else self.start.year + 7

    def apply(self, sim: Sim) -> None:
        self._saved = {k: sim.pars[k] for k in self.values}
        for k, v in self.values.items():
            sim.pars.set(k, v, self.where)

    def revert(self, sim: Sim) -> None:
        for k, v in self._saved.items():
            sim.pars.set(k, v, self.where)


@register
class DefectorArrivals(ParameterEvent):
    type = "defector_arrivals"
    description = "defector arrivals times a multiplier (e.g. 0.1 for a sealed border)"
    keys = {"multiplier": "defector_arrivals_multiplier"}
