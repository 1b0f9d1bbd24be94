"""gocart-compatible alert filters, validated when the settings are loaded.

An alert is kept when at least one filter passes; a filter passes when all its criteria pass. Every
criterion reports why it passed or failed, and the reasons go into meta.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skysift.errors import ConfigError
from skysift.skymaps.notice import ALERT_TYPES, normalise_alert_type

__all__ = ["CRITERIA", "FilterContext", "FilterResult", "FilterSpec", "evaluate", "parse_filters"]

_NUMBER = ("ns_lower", "far_upper", "dist_upper", "area90_upper", "hasns_lower", "hasremnant_lower")
_BOOL = ("significant", "burst", "event_dir_exists")
CRITERIA = ("alert_types", *_NUMBER, *_BOOL)
_ALIASES = {"event_dir_exist": "event_dir_exists"}


@dataclass(frozen=True)
class FilterSpec:
    """A named filter and its criteria (keys already normalised)."""

    name: str
    criteria: dict[str, Any]


@dataclass(frozen=True)
class FilterContext:
    """What the criteria look at for one alert."""

    alert_type: str
    event: dict[str, Any] | None
    distmean: float | None = None
    area90: float | None = None
    event_dir_exists: bool = False


@dataclass
class FilterResult:
    """One filter's verdict and the reason for each criterion."""

    name: str
    passed: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons)}


def parse_filters(raw: Any, *, path: str | None = None) -> list[FilterSpec]:
    """Validate the ``lvk.filters`` list. Unknown criteria and bad values raise ConfigError."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("lvk.filters must be a list of filters", path=path, key="lvk.filters")
    specs: list[FilterSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        key = f"lvk.filters[{i}]"
        if not isinstance(item, dict):
            raise ConfigError("a filter must be a mapping", path=path, key=key)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a filter needs a name", path=path, key=key)
        if name in seen:
            raise ConfigError(f"two filters are named {name!r}", path=path, key=key)
        seen.add(name)
        criteria: dict[str, Any] = {}
        for k, v in item.items():
            if k == "name":
                continue
            canon = _ALIASES.get(k, k)
            where = f"{key}.{k}"
            if canon not in CRITERIA:
                raise ConfigError(f"unknown filter criterion {k!r} in filter {name!r}; known: "
                                  f"{', '.join(CRITERIA)}", path=path, key=where)
            if canon == "alert_types":
                if isinstance(v, str):
                    v = [v]
                if not isinstance(v, list) or not v:
                    raise ConfigError("alert_types must be a non-empty list", path=path, key=where)
                norm = [normalise_alert_type(t) for t in v]
                bad = [t for t, n in zip(v, norm, strict=True) if n not in ALERT_TYPES]
                if bad:
                    raise ConfigError(f"unknown alert type {bad[0]!r}; known: "
                                      f"{', '.join(ALERT_TYPES)}",
                                      path=path, key=where)
                v = norm
            elif canon in _NUMBER:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ConfigError(f"{k} must be a number, not {v!r}", path=path, key=where)
                v = float(v)
            elif not isinstance(v, bool):
                raise ConfigError(f"{k} must be true or false, not {v!r}", path=path, key=where)
            criteria[canon] = v
        specs.append(FilterSpec(name, criteria))
    return specs


def _check(crit: str, value: Any, ctx: FilterContext) -> tuple[bool, str]:
    ev = ctx.event
    if crit == "alert_types":
        ok = ctx.alert_type in value
        return ok, f"alert_type {ctx.alert_type} {'in' if ok else 'not in'} {value}"
    if crit == "event_dir_exists":
        ok = ctx.event_dir_exists == value
        return ok, f"event directory {'exists' if ctx.event_dir_exists else 'does not exist'}"
    if ev is None:
        return True, f"{crit}: not applied (no event, e.g. a retraction)"
    if crit == "burst":
        is_burst = str(ev.get("group", "")).lower() == "burst"
        ok = is_burst == value
        return (
            ok,
            f"group {ev.get('group')!r} {'matches' if ok else 'does not match'} burst={value}",
        )
    if crit == "significant":
        sig = ev.get("significant")
        if sig is None:
            return False, "significant: the alert has no significant flag"
        ok = bool(sig) == value
        return ok, f"significant={sig} {'==' if ok else '!='} {value}"
    if crit == "far_upper":
        far = ev.get("far")
        if far is None:
            return False, "far_upper: the alert has no FAR"
        ok = float(far) < value
        return ok, f"far {far:.3g} Hz {'<' if ok else '>='} {value:.3g}"
    if crit == "ns_lower":
        cls = ev.get("classification") or {}
        if not cls:
            return True, "ns_lower: not applied (empty classification)"
        ns = float(cls.get("BNS", 0) or 0) + float(cls.get("NSBH", 0) or 0)
        ok = ns >= value
        return ok, f"BNS+NSBH {ns:.3f} {'>=' if ok else '<'} {value}"
    if crit in ("hasns_lower", "hasremnant_lower"):
        prop = "HasNS" if crit == "hasns_lower" else "HasRemnant"
        got = (ev.get("properties") or {}).get(prop)
        if got is None:
            return False, f"{crit}: the alert has no {prop}"
        ok = float(got) >= value
        return ok, f"{prop} {float(got):.3f} {'>=' if ok else '<'} {value}"
    if crit == "dist_upper":
        if ctx.distmean is None:
            return True, "dist_upper: not applied (the map has no distance)"
        ok = ctx.distmean < value
        return ok, f"DISTMEAN {ctx.distmean:.1f} Mpc {'<' if ok else '>='} {value}"
    if crit == "area90_upper":
        if ctx.area90 is None:
            return False, "area90_upper: no sky map area (the map is missing or did not decode)"
        ok = ctx.area90 < value
        return ok, f"area90 {ctx.area90:.1f} deg2 {'<' if ok else '>='} {value}"
    raise AssertionError(crit)  # parse_filters only lets known criteria through


def evaluate(filters: list[FilterSpec], ctx: FilterContext) -> list[FilterResult]:
    """Run every filter; bursts fail filters that do not say ``burst: true`` (as in gocart)."""
    results = []
    for spec in filters:
        crits = dict(spec.criteria)
        crits.setdefault("burst", False)
        reasons = []
        passed = True
        for crit, value in crits.items():
            ok, why = _check(crit, value, ctx)
            reasons.append(("pass: " if ok else "FAIL: ") + why)
            passed &= ok
        results.append(FilterResult(spec.name, passed, reasons))
    return results
