"""Human-readable facts about an alert: FAR as "1 per N years", latency, classification."""

from __future__ import annotations

from typing import Any

from skysift.skymaps.notice import Notice, parse_time

__all__ = ["far_per_year", "far_text", "latency_seconds", "panel_lines", "years_per_false_alarm"]

_YEAR_S = 365.25 * 86400.0


def far_per_year(far_hz: float | None) -> float | None:
    """The false-alarm rate in Hz as false alarms per (Julian) year.

    >>> round(far_per_year(3.218261352069347e-10), 5)   # S230518h
    0.01016
    """
    if far_hz is None or far_hz <= 0:
        return None
    return float(far_hz) * _YEAR_S


def years_per_false_alarm(far_hz: float | None) -> float | None:
    """N in "1 per N years": the mean time between false alarms, in years."""
    rate = far_per_year(far_hz)
    return None if rate is None else 1.0 / rate


def far_text(far_hz: float | None) -> str:
    """``1 per 3.5e+05 years`` / ``1 per 12.3 years`` / ``1 per 4.2 days``.

    >>> far_text(9.11069936486e-14)
    '1 per 3.48e+05 years'
    """
    n = years_per_false_alarm(far_hz)
    if n is None:
        return "unknown"
    if n >= 1000:
        return f"1 per {n:.3g} years"
    if n >= 1:
        return f"1 per {n:.1f} years"
    return f"1 per {n * 365.25:.1f} days"


def latency_seconds(notice: Notice) -> float | None:
    """Seconds from the event to the notice's creation."""
    if not notice.event or not notice.event.get("time"):
        return None
    try:
        return (notice.time_created - parse_time(notice.event["time"])).total_seconds()
    except (TypeError, ValueError):
        return None


def _percentages(d: dict[str, Any] | None) -> str:
    if not d:
        return "none"
    items = []
    for k, v in sorted(d.items(),
                       key=lambda kv: -(kv[1] if isinstance(kv[1], (int, float)) else 0)):
        items.append(f"{k} {v:.0%}" if isinstance(v, (int, float)) else f"{k} {v}")
    return "\n".join(items)


def panel_lines(notice: Notice, extra: dict[str, Any]) -> list[tuple[str, str]]:
    """The (label, value) lines of the plot's side panel."""
    ev = notice.event or {}
    lines = [("Event", notice.superevent_id), ("Alert", notice.alert_type),
             ("Created", f"{notice.time_created:%Y-%m-%d %H:%M:%S} UTC")]
    if ev:
        lines += [("Event time", str(ev.get("time", "?")).replace("T", " ")),
                  ("Group", str(ev.get("group", "?"))),
                  ("Significant", "yes" if ev.get("significant") else "no"),
                  ("FAR", far_text(ev.get("far"))),
                  ("Instruments", ", ".join(ev.get("instruments") or []) or "?"),
                  ("Pipeline", f"{ev.get('pipeline', '?')} ({ev.get('search', '?')})")]
    lines.append(("Localisation", str(extra.get("map_name", "?"))))
    if extra.get("distmean") is not None:
        lines.append(("Distance", f"{extra['distmean']:.0f} ± {extra.get('diststd', 0):.0f} Mpc"))
    for lev in ("area50", "area90"):
        if extra.get(lev) is not None:
            lines.append((lev.replace("area", "Area "), f"{extra[lev]:,.1f} deg²"))
    if ev:
        lines.append(("Classification", _percentages(ev.get("classification"))))
        lines.append(("Properties", _percentages(ev.get("properties"))))
    if notice.external_coinc:
        ext = notice.external_coinc
        lines.append(("External", (f"{ext.get('observatory', '?')} {ext.get('search', '')} "
                                   f"Δt={ext.get('time_difference', '?')} s")))
    return lines
