"""The one error tree of skysift.

Every error skysift raises on purpose is a :class:`SkysiftError`. Third-party exceptions are
translated at the boundary (``raise ... from exc``). Errors carry *where* as fields (file path,
topic/partition/offset, filter name), not only as text, so loops can log and dead-letter them.

::

    SkysiftError
    ├── ConfigError              a setting is missing, malformed or unknown
    ├── AlertDecodeError         bytes that are not a valid alert (file/topic/partition/offset)
    │   └── UnknownSchemaError   a schema id that neither lsst-alert-packet nor the registry knows
    ├── StoreError               the database refused or failed
    │   └── StoreUnavailable     * the database cannot be reached now (down, restarting, locked)
    ├── FilterError              anything about a user filter (filter name)
    │   ├── FilterSyntaxError    SQL that does not parse
    │   ├── FilterRejected       SQL that parses but is not allowed (names the offending part)
    │   ├── FilterTimeout        ran past its deadline
    │   └── FilterConflict       a name whose topic belongs to another filter, or a duplicate name
    ├── UserError                unknown user, duplicate user
    ├── BrokerError              Kafka unreachable, embedded broker not running, admin call failed
    │   ├── BrokerUnavailable    * the broker cannot be reached now, or did not answer in time
    │   └── DeliveryError        a record could not be produced (* when the broker was away)
    ├── SkymapError              a sky map that cannot be read or is inconsistent
    ├── ContextError             a watchlist, watchmap or GW event that cannot be made or used
    │   └── ContextNotFound      no such watchlist, watchmap or event (or not the caller's to see)
    └── GcnError                 the GCN listener (settings, notices, daemon)

``*``: *transient* (``error.transient`` is True): the same work may succeed later, unchanged. The
batch loop (:mod:`skysift.worker`) retries transient errors with backoff and never dead-letters
an alert because of one; every other error of a batch is treated as caused by its content.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlertDecodeError",
    "BrokerError",
    "BrokerUnavailable",
    "ConfigError",
    "ContextError",
    "ContextNotFound",
    "DeliveryError",
    "FilterConflict",
    "FilterError",
    "FilterRejected",
    "FilterSyntaxError",
    "FilterTimeout",
    "GcnError",
    "SkymapError",
    "SkysiftError",
    "StoreError",
    "StoreUnavailable",
    "UnknownSchemaError",
    "UserError",
]


class SkysiftError(Exception):
    """Root of every error skysift raises on purpose.

    Parameters
    ----------
    message
        What went wrong, for a person.
    **where
        Where it went wrong: ``path``, ``topic``, ``partition``, ``offset``, ``filter``, ``key``...
        Kept as attributes and in :attr:`where`, and appended to ``str(error)``.

    Attributes
    ----------
    transient
        True when the same work may succeed later unchanged (a database restarting, a broker
        away): loops retry it with backoff instead of blaming the input.
    """

    transient: bool = False

    def __init__(self, message: str, **where: Any) -> None:
        self.message = message
        self.where = {k: v for k, v in where.items() if v is not None}
        for key, value in self.where.items():
            setattr(self, key, value)
        super().__init__(message)

    def __str__(self) -> str:
        if not self.where:
            return self.message
        loc = ", ".join(f"{k}={v}" for k, v in self.where.items())
        return f"{self.message} ({loc})"


class ConfigError(SkysiftError):
    """A setting is missing, malformed or unknown."""


class AlertDecodeError(SkysiftError):
    """Bytes that are not a valid alert. ``where`` names the file or topic/partition/offset."""


class UnknownSchemaError(AlertDecodeError):
    """A Rubin schema id that no schema source knows."""


class StoreError(SkysiftError):
    """The database refused or failed."""


class StoreUnavailable(StoreError):
    """The database cannot be reached now (down, restarting, out of connections, locked)."""

    transient = True


class FilterError(SkysiftError):
    """Anything about a user filter; ``where`` names the filter."""


class FilterSyntaxError(FilterError):
    """Filter SQL that does not parse."""


class FilterRejected(FilterError):
    """Filter SQL that parses but uses something not allowed; the message names it."""


class FilterTimeout(FilterError):
    """A filter ran past its deadline."""


class FilterConflict(FilterError):
    """A filter name that is taken, or whose topic would be another filter's."""


class UserError(SkysiftError):
    """Unknown or duplicate user."""


class BrokerError(SkysiftError):
    """Kafka is unreachable, the embedded broker is not running, or an admin call failed."""


class BrokerUnavailable(BrokerError):
    """The Kafka broker cannot be reached now, or did not answer in time."""

    transient = True


class DeliveryError(BrokerError):
    """Records could not be delivered to Kafka.

    ``transient`` is set when the broker was away or slow (the records may be produced again);
    :attr:`missing_topics` names topics the broker did not know (deleted, or lost in a restart).
    """

    def __init__(self, message: str, *, transient: bool = False,
                 missing_topics: frozenset[str] = frozenset(), **where: Any) -> None:
        super().__init__(message, **where)
        self.transient = transient
        self.missing_topics = missing_topics


class SkymapError(SkysiftError):
    """A sky map that cannot be read or is inconsistent."""


class ContextError(SkysiftError):
    """A watchlist, watchmap or gravitational-wave event that cannot be made, read or used;
    ``where`` names the file and line, or the list, map or event."""

    #: the HTTP status the API answers with
    status = 400


class ContextNotFound(ContextError):
    """No such watchlist, watchmap or event, or one the caller may not see (the same answer,
    so that private lists do not reveal that they exist)."""

    status = 404


class GcnError(SkysiftError):
    """The GCN listener: settings, notices, daemon."""
