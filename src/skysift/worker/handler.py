"""What a batch loop needs from the work it runs: the :class:`Handler` protocol.

Alert ingest (:class:`skysift.ingest.AlertHandler`) and annotation ingest
(:class:`skysift.annotations.kafka.AnnotationHandler`) are two handlers of the same loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from skysift.alerts.model import AlertOrigin

__all__ = ["Handler", "Letter", "Outcome"]


@dataclass
class Letter:
    """One dead letter: the bytes as received (None: copy the file ``origin.path``), where they
    came from, and why they were not processed."""

    raw: bytes | None
    origin: AlertOrigin
    reason: str
    outcome: str = "undecodable"  # undecodable | refused | poison (for counts and metrics)


@dataclass
class Outcome:
    """What one successful :meth:`Handler.process` call did.

    Attributes
    ----------
    processed
        Items stored (alerts, or annotation messages).
    rejected
        Items the handler refused, with the reason (dead-lettered by the loop).
    records_produced, records_rejected
        Output records.
    warnings
        Values stored as NULL, one line each (logged, counted).
    seconds
        Seconds per stage of this call.
    report
        The handler's own report (for ``on_batch`` callbacks).
    """

    processed: int = 0
    rejected: list[tuple[Any, str]] = field(default_factory=list)
    records_produced: int = 0
    records_rejected: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    report: Any = None


class Handler(Protocol):
    """The work of a batch loop."""

    #: "alerts" or "annotations": the loop's name in logs and metrics.
    name: str

    def decode(self, value: bytes, origin: AlertOrigin) -> Any:
        """One message as an item; raise :class:`~skysift.errors.AlertDecodeError` (or any
        non-transient error) for a message that is not one (it is dead-lettered)."""

    def process(self, items: Sequence[Any]) -> Outcome:
        """Store, filter, produce and flush one batch; raise on failure (the loop's policy
        decides what then)."""

    def discard(self) -> None:
        """Drop what a failed :meth:`process` queued for delivery."""

    def item_letter(self, item: Any, reason: str, outcome: str) -> Letter:
        """The dead letter of an item that was decoded but not processed."""

    def active_topics(self) -> set[str]:
        """Output topics that must exist (created again after a broker lost them)."""

    def record_stats(self, processed: int, rejected: int, lag_s: float | None) -> None:
        """Count a finished batch in the store's statistics (may raise StoreError)."""

    def tick(self) -> None:
        """Periodic work between batches (email digests); must not raise."""

    def close(self) -> None:
        """Release what the handler holds."""
