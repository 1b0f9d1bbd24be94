"""Helpers of the annotation tests (a module with its own name: ``conftest`` is ambiguous when
several test folders run together)."""

from __future__ import annotations

from pathlib import Path

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"


def rubin_alerts():
    """The real Rubin test alerts that have a diaObject."""
    from skysift.alerts.files import iter_alert_files, read_alerts

    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    return [a for a in alerts if not isinstance(a, Exception) and a.diaObjectId is not None]
