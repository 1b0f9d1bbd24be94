"""Handle one notice end to end: decode, choose, filter, write, index, run plugins.

:meth:`AlertProcessor.process` never raises for a bad notice: what can be written is written, the
rest is logged with where the notice came from (topic/partition/offset or file), and the raw notice
is kept in the rejected folder. Processing the same notice again changes nothing on disk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from skysift import __version__
from skysift.errors import AlertDecodeError, SkymapError
from skysift.gcn import atomic
from skysift.gcn.eventstate import event_lock, update_event_index
from skysift.gcn.filters import FilterContext, FilterResult, evaluate
from skysift.gcn.layout import alert_dir_name, event_dir, map_name, notice_file_name
from skysift.skymaps.notice import Notice, decode_notice
from skysift.gcn.rejected import describe_where, save_rejected
from skysift.gcn.settings import GcnSettings
from skysift.gcn.summary import far_per_year, far_text, latency_seconds, panel_lines
from skysift.bridge import StoreBridge
from skysift.skymaps.ephemeris import sun_moon
from skysift.gcn.products import map_stats
from skysift.skymaps.multiorder import read_multiorder
from skysift.gcn.plugins import run_plugins
from skysift.gcn import products

__all__ = ["DIGEST_FILE", "PLUGINS_DONE_FILE", "AlertProcessor", "Outcome"]

DIGEST_FILE = ".notice.sha256"
PLUGINS_DONE_FILE = ".plugins-done"


@dataclass
class Outcome:
    """What happened to one notice: written, unchanged, filtered, skipped or rejected."""

    status: str
    superevent_id: str | None = None
    alert_type: str | None = None
    alert_dir: Path | None = None
    filters: list[FilterResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rejected_path: Path | None = None


class AlertProcessor:
    """Processes notices for one settings file (used by listen, echo and process)."""

    def __init__(self, settings: GcnSettings, *, plugins: bool | None = None,
                 log: logging.Logger | None = None) -> None:
        self.settings = settings
        self.plugins = settings.plugins_enabled if plugins is None else plugins
        self.log = log or logging.getLogger("skysift.gcn")

        #: registers each written alert in the broker's store (None: not configured)
        self.bridge = StoreBridge.for_gcn(settings, self.log)

    def warm_up(self) -> None:
        """Import the heavy modules and the ephemeris now, so the first alert is not slower."""
        from skysift.gcn import products  # noqa: F401
        from skysift.skymaps import plot, regions  # noqa: F401

        if self.settings.plot.convert:
            import matplotlib.pyplot  # noqa: F401

            sun_moon("2020-01-01T00:00:00")

    # ------------------------------------------------------------------ entry point
    def process(self, raw: bytes, *, unknown: Sequence[str] = (), **where: Any) -> Outcome:
        """Process one notice's bytes; ``where`` (topic, partition, offset or path) names its
        origin. ``unknown`` names fields (``event.far``) the notice's maker could not know, so
        that the schema's complaint that they are null is no problem: a bare sky map wrapped in
        a notice (:func:`skysift.gcn.process.notices_in`)."""
        try:
            notice = decode_notice(raw, **where)
        except AlertDecodeError as exc:
            self.log.error("rejected notice: %s", exc)
            path = save_rejected(self.settings.download_dir, raw, [str(exc)], where)
            return Outcome("rejected", problems=[str(exc)], rejected_path=path)
        if unknown:
            notice.problems = [p for p in notice.problems
                               if not any(p.startswith(f"schema: {f}: None ") for f in unknown)]
        try:
            outcome = self._process(notice, where)
        except OSError:  # the disk, not the notice: let the caller retry
            raise
        except Exception as exc:  # a bug or an unforeseen notice: keep it and go on
            self.log.exception("failed on %s %s (%s)", notice.superevent_id, notice.alert_type,
                               describe_where(where))
            outcome = Outcome("rejected", notice.superevent_id, notice.alert_type,
                              problems=[*notice.problems, f"{type(exc).__name__}: {exc}"])
        if outcome.problems:
            for problem in outcome.problems:
                self.log.warning("%s %s: %s (%s)", notice.superevent_id, notice.alert_type, problem,
                                 describe_where(where))
            outcome.rejected_path = save_rejected(self.settings.download_dir, raw, outcome.problems,
                                                  where)
        return outcome

    # ------------------------------------------------------------------ steps
    def _process(self, notice: Notice, where: dict[str, Any]) -> Outcome:
        s = self.settings
        sid, atype = notice.superevent_id, notice.alert_type
        problems = list(notice.problems)
        if (notice.is_mock and not s.parse_mock_events) or (
            not notice.is_mock and not s.parse_real_events
        ):
            self.log.info("%s %s: skipped (%s events are not parsed)", sid, atype,
                          "mock" if notice.is_mock else "real")
            return Outcome("skipped", sid, atype, problems=problems)
        ev_dir = event_dir(s.download_dir, notice)
        skymap: Any = None
        stats: dict[str, Any] = {}
        levels: Any = None
        if notice.skymap is not None:
            try:
                skymap = read_multiorder(notice.skymap, where=f"{sid} {atype} event.skymap")
                stats, levels = map_stats(skymap)
            except SkymapError as exc:
                problems.append(str(exc))
                skymap = None
        elif not notice.is_retraction:
            problems.append("the notice has no sky map")
        ctx = FilterContext(atype, notice.event, stats.get("distmean"), stats.get("area90"),
                            ev_dir.is_dir())
        results = evaluate(s.filters, ctx)
        for r in results:
            self.log.info("%s %s filter %r: %s (%s)", sid, atype, r.name,
                          "PASS" if r.passed else "fail",
                          "; ".join(r.reasons))
        if notice.is_retraction:
            kept = ev_dir.is_dir()
            if not kept:
                self.log.info("%s RETRACTION: no such event on disk, not written", sid)
        else:
            kept = not s.filters or any(r.passed for r in results)
        if not kept:
            return Outcome("filtered", sid, atype, filters=results, problems=problems)

        name = alert_dir_name(notice)
        alert_dir = ev_dir / name
        digest = hashlib.sha256(notice.raw).hexdigest()
        with event_lock(ev_dir):
            digest_file = alert_dir / DIGEST_FILE
            if digest_file.exists() and digest_file.read_text().strip() == digest:
                status = "unchanged"
                meta = yaml.safe_load((alert_dir / "meta.yaml").read_text())
            else:
                status = "written"
                meta = self._write_alert(notice, ev_dir, name, skymap, stats, levels,
                                         results, digest,
                                         problems)
            update_event_index(ev_dir, sid)
        self.log.info("%s %s: %s %s", sid, atype, status, alert_dir)
        if self.bridge is not None:
            self.bridge(notice)
        if self.plugins and not (alert_dir / PLUGINS_DONE_FILE).exists():
            files = sorted(str(p) for p in alert_dir.iterdir() if not p.name.startswith("."))
            run_plugins(s.plugins_dir, alert_dir, settings_path=s.path, settings_raw=s.raw,
                        files=files, meta=meta, timeout=s.plugin_timeout, log=self.log)
            atomic.write_text(alert_dir / PLUGINS_DONE_FILE, "")
        return Outcome(status, sid, atype, alert_dir, results, problems)

    def _write_alert(self, notice: Notice, ev_dir: Path, name: str, skymap: Any, stats: dict,
                     levels: Any, results: list[FilterResult], digest: str,
                     problems: list[str]) -> dict[str, Any]:
        s = self.settings
        staging = ev_dir / f".{name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            extra = self._extra(notice, skymap, stats, results)
            if s.write_notice:
                atomic.write_bytes(staging / notice_file_name(notice), notice.raw)
            if skymap is not None and notice.skymap is not None:  # the map read from these bytes
                extra["map_file"] = f"{extra['map_name']}.multiorder.fits"
                atomic.write_bytes(staging / extra["map_file"], notice.skymap)
            if notice.combined_skymap is not None:
                extra["external_coinc"] = self._combined(notice, staging, problems)
            extra["problems"] = list(problems)
            meta = {"ALERT": notice.alert,
                    "HEADER": dict(skymap.header) if skymap is not None else {},
                    "EXTRA": extra}
            # products that may fail one by one; meta.yaml notes every failure
            if skymap is not None:
                self._products(notice, skymap, levels, extra, staging, problems)
            extra["problems"] = list(problems)
            atomic.write_text(staging / "meta.yaml", yaml.safe_dump(meta, sort_keys=True,
                                                                    allow_unicode=True, width=100))
            atomic.write_text(staging / DIGEST_FILE, digest + "\n")
            atomic.publish_dir(staging, ev_dir / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return meta

    def _extra(self, notice: Notice, skymap: Any, stats: dict, results: list[FilterResult]) -> dict:
        ev = notice.event or {}
        latency = latency_seconds(notice)
        extra: dict[str, Any] = dict(stats)
        extra.update(
            {
                "map_name": map_name(skymap.header, notice.event) if skymap is not None else None,
                "latency_seconds": round(latency, 3) if latency is not None else None,
                "far_per_year": far_per_year(ev.get("far")),
                "far_text": far_text(ev.get("far")) if ev else None,
                "filters": {r.name: r.as_dict() for r in results},
                "kept_by": [r.name for r in results if r.passed] if results else ["(no filters)"],
                "notice_format": notice.format,
                "notice_sha256": hashlib.sha256(notice.raw).hexdigest(),
                "nside": self.settings.nside
                if skymap is not None and self.settings.ascii_map
                else None,
                "skysift_version": __version__,
            }
        )
        return extra

    def _combined(self, notice: Notice, staging: Path, problems: list[str]) -> dict[str, Any]:
        raw = notice.combined_skymap
        assert raw is not None, "called only for notices with a combined sky map"
        atomic.write_bytes(staging / "combined-ext.multiorder.fits", raw)
        try:
            cm = read_multiorder(raw,
                                 where=f"{notice.superevent_id} external_coinc.combined_skymap")
            cstats, _ = map_stats(cm)
        except SkymapError as exc:
            problems.append(str(exc))
            return {"map_file": "combined-ext.multiorder.fits", "error": str(exc)}
        return {"map_file": "combined-ext.multiorder.fits",
                **{k: cstats[k] for k in ("area10", "area50", "area90",
                                          "central coordinate", "peak")}}

    def _products(self, notice: Notice, skymap: Any, levels: Any, extra: dict, staging: Path,
                  problems: list[str]) -> None:
        s = self.settings
        steps: list[tuple[str, Callable[[], object]]] = []
        if s.ascii_map:
            steps.append(("skymap.csv",
                          lambda: products.write_csv(skymap, staging / "skymap.csv", s.nside)))
        if s.moc:
            steps.append(("MOC regions", lambda: products.write_mocs(skymap, staging, levels)))
        if s.plot.convert:
            steps.append(("skymap.png", lambda: products.write_plot(
                skymap, staging / "skymap.png", s, panel_lines(notice, extra),
                f"{notice.superevent_id} {notice.alert_type.lower()}", extra)))
        for label, step in steps:
            try:
                step()
            except Exception as exc:  # one product failing must not lose the others
                problems.append(f"{label} not written: {type(exc).__name__}: {exc}")
