"""The one internal alert model every survey adapter produces.

Field names inside the dicts are Rubin's, as in the newest schema lsst-alert-packet ships
(lsst.v11_1): older versions are mapped forward by the LSST adapter (e.g. ``MPCORB`` ->
``mpc_orbits``). Positions keep Rubin's ``dec``; the ``objects`` table calls it ``decl`` as Lasair
does.

Cutout images are never kept in the model: skysift does not store them and no output carries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Alert", "AlertOrigin"]


@dataclass(frozen=True)
class AlertOrigin:
    """Where an alert came from, for logs, dead letters and error messages."""

    path: str | None = None  # a file
    topic: str | None = None  # or a Kafka message
    partition: int | None = None
    offset: int | None = None
    index: int | None = None  # record number inside a multi-record file
    timestamp_ms: int | None = None  # Kafka message timestamp (arrival on the input topic)

    def describe(self) -> str:
        if self.topic is not None:
            return f"{self.topic}/{self.partition}/{self.offset}"
        if self.index is not None:
            return f"{self.path}#{self.index}"
        return str(self.path)

    def as_where(self) -> dict[str, Any]:
        """Keyword arguments for a :class:`skysift.errors.SkysiftError`."""
        return {
            "path": self.path,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "record": self.index,
        }


@dataclass
class Alert:
    """One decoded survey alert, normalised.

    Attributes
    ----------
    diaSourceId
        The id of the triggering detection.
    diaObjectId
        The object's id; ``None`` for alerts of solar-system objects only (no diaObject).
    diaSource
        The triggering detection, every field except images.
    prvDiaSources, prvDiaForcedSources
        The history carried by the alert (may be empty).
    diaObject
        The diaObject record as sent (``None`` when absent).
    extra
        Everything else of the alert without cutouts: ``observation_reason``, ``target_name``,
        ``ssSource``, ``mpc_orbits``...
    schema_version
        ``"major.minor"`` of the writer schema (``"9.0"``), or the re-serialiser's name.
    survey
        ``"lsst"`` (``"ztf"`` reserved for the ZTF adapter).
    origin
        Where it came from.
    raw
        The framed message (or framed file) the alert was decoded from, kept so that
        :func:`skysift.alerts.decode.decode_full` can decode the whole history later; ``None``
        for alerts read from Avro container or JSON files (always complete).
    cutout_spans
        Where the cutout images lie in ``raw``: ``(start, end, null)`` per image, ``null`` the
        bytes of the same field without it (set by the fast decode; empty otherwise).
    history_complete
        False when ``prvDiaSources``/``prvDiaForcedSources`` items carry only the fields the
        pipeline reads (the default, fast decode of framed alerts; see
        :data:`skysift.alerts.project.HISTORY_FIELDS`); ``decode_full`` gives every field.
    """

    diaSourceId: int
    diaObjectId: int | None
    diaSource: dict[str, Any]
    prvDiaSources: list[dict[str, Any]] = field(default_factory=list)
    prvDiaForcedSources: list[dict[str, Any]] = field(default_factory=list)
    diaObject: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: str = ""
    survey: Literal["lsst", "ztf"] = "lsst"
    origin: AlertOrigin = field(default_factory=AlertOrigin)
    raw: bytes | None = field(default=None, repr=False)
    history_complete: bool = True
    cutout_spans: tuple[tuple[int, int, bytes], ...] = field(default=(), repr=False)

    def without_cutouts(self) -> bytes | None:
        """``raw`` with every cutout image replaced by its field's null value: the same alert,
        a valid message of the same schema, without the images (``raw`` itself when the decode
        did not record where they lie; None without ``raw``)."""
        if self.raw is None or not self.cutout_spans:
            return self.raw
        parts: list[bytes] = []
        p = 0
        for start, end, null in self.cutout_spans:
            parts += (self.raw[p:start], null)
            p = end
        parts.append(self.raw[p:])
        return b"".join(parts)

    @property
    def all_sources(self) -> list[dict[str, Any]]:
        """The triggering detection and the previous ones, oldest first."""
        srcs = [*self.prvDiaSources, self.diaSource]
        return sorted(srcs, key=lambda s: s.get("midpointMjdTai") or 0.0)

    def to_full_dict(self) -> dict[str, Any]:
        """The alert as Lasair's full record ``alert`` block: diaObject, diaSourcesList,
        diaForcedSourcesList (every field except cutouts), newest source last."""
        return {
            "diaObject": self.diaObject,
            "diaSourcesList": self.all_sources,
            "diaForcedSourcesList": sorted(
                self.prvDiaForcedSources, key=lambda s: s.get("midpointMjdTai") or 0.0
            ),
        }
