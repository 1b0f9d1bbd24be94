"""The one error tree of skysift.

Every exception skysift defines is a :class:`SkysiftError`, defined here (and re-exported by the
module that raises it, where that reads better: ``skysift.web.httperrors.NotFound``). Third-party
exceptions are translated at the boundary (``raise ... from exc``). Errors carry *where* as fields
(file path, topic/partition/offset, filter name), not only as text, so loops can log and
dead-letter them. A test walks every module and fails on an exception class outside this tree
or missing from the drawing below.

::

    SkysiftError
    ├── ConfigError              a setting is missing, malformed or unknown
    ├── AlertDecodeError         bytes that are not a valid alert (file/topic/partition/offset)
    │   └── UnknownSchemaError   a schema id that neither lsst-alert-packet nor the registry knows
    ├── FastDecodeError          (internal) the fast Avro reader declines: decode the full way
    ├── Unsupported              (internal) a schema type the fast reader's generator cannot read
    ├── ArchiveError             an archive file or archived alert that cannot be read (night, file)
    ├── StoreError               the database refused or failed
    │   └── StoreUnavailable     * the database cannot be reached now (down, restarting, locked)
    ├── FilterError              anything about a user filter (filter name)
    │   ├── FilterSyntaxError    SQL that does not parse
    │   ├── FilterRejected       SQL that parses but is not allowed (names the offending part)
    │   ├── FilterTimeout        ran past its deadline
    │   ├── FilterConflict       a name whose topic belongs to another filter, or a duplicate name
    │   └── BatchSchemaError     a table or column the batch database of the filters does not have
    ├── UserError                unknown user, duplicate user
    ├── AnnotationRejected       an annotation or annotator that cannot be accepted (says why)
    │   └── AnnotationForbidden  the caller does not own the annotator
    ├── BrokerError              Kafka unreachable, embedded broker not running, admin call failed
    │   ├── BrokerUnavailable    * the broker cannot be reached now, or did not answer in time
    │   └── DeliveryError        a record could not be produced (* when the broker was away)
    ├── EmailError               an email could not be sent
    ├── SkymapError              a sky map that cannot be read or is inconsistent
    ├── ContextError             a watchlist, watchmap or GW event that cannot be made or used
    │   └── ContextNotFound      no such watchlist, watchmap or event (or not the caller's to see)
    ├── PositionError            text that is not a sky position (also a ValueError)
    ├── WebError                 an error of a web request; ``status`` is its HTTP status
    │   ├── BadInput             400: malformed, missing, out-of-range or oversize input
    │   │   └── NotConfigured    400: a service this deployment does not have (Sherlock)
    │   ├── NotLoggedIn          401: the page or action needs a logged-in user
    │   ├── Forbidden            403: logged in, but not allowed
    │   ├── NotFound             404: no such thing, or not one this user may see
    │   └── RateLimited          429: too many calls or attempts (``retry_after`` seconds)
    ├── GcnError                 the GCN listener (settings, notices, daemon)
    │   └── GcnKafkaError        a fatal error of the GCN Kafka consumer (the listener stops)
    ├── Stopped                  (internal) a batch loop was asked to stop while a batch waited
    └── Abandoned                (internal) a waiting batch's partitions went to another worker

``*``: *transient* (``error.transient`` is True): the same work may succeed later, unchanged. The
batch loop (:mod:`skysift.worker`) retries transient errors with backoff and never dead-letters
an alert because of one; every other error of a batch is treated as caused by its content. A
:class:`FilterError` met while a batch is filtered is recorded on its filter, and the others go
on (:mod:`skysift.pipeline`): a filter's problem never blames the alerts or the store.

*(internal)*: control flow between two functions of one module or loop, always caught there;
never shown to a person.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Abandoned",
    "AlertDecodeError",
    "AnnotationForbidden",
    "AnnotationRejected",
    "ArchiveError",
    "BadInput",
    "BatchSchemaError",
    "BrokerError",
    "BrokerUnavailable",
    "ConfigError",
    "ContextError",
    "ContextNotFound",
    "DeliveryError",
    "EmailError",
    "FastDecodeError",
    "FilterConflict",
    "FilterError",
    "FilterRejected",
    "FilterSyntaxError",
    "FilterTimeout",
    "Forbidden",
    "GcnError",
    "GcnKafkaError",
    "NotConfigured",
    "NotFound",
    "NotLoggedIn",
    "PositionError",
    "RateLimited",
    "SkymapError",
    "SkysiftError",
    "Stopped",
    "StoreError",
    "StoreUnavailable",
    "UnknownSchemaError",
    "Unsupported",
    "UserError",
    "WebError",
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


class FastDecodeError(SkysiftError):
    """The fast reader met something it does not accept: decode the full way instead
    (:mod:`skysift.alerts.project`; never leaves :mod:`skysift.alerts.decode`)."""


class Unsupported(SkysiftError):
    """A type the fast reader's code generator does not read (e.g. a logical type): use fastavro
    there (:mod:`skysift.alerts.avrocode`)."""


class ArchiveError(SkysiftError):
    """An archive file, or an archived alert, that cannot be read; ``where`` names the night,
    the file and the record or block."""


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


class BatchSchemaError(FilterError):
    """A table or column that the batch database of the filters
    (:class:`~skysift.filters.batch.BatchEngine`) does not have: a filter, or the filter
    catalogue, that does not match it. Never the store's fault, nor an alert's."""


class UserError(SkysiftError):
    """Unknown or duplicate user."""


class AnnotationRejected(SkysiftError):
    """An annotation (or annotator) that cannot be accepted; the message says why."""

    #: the HTTP status the API answers with
    status = 400


class AnnotationForbidden(AnnotationRejected):
    """The caller does not own the annotator."""

    status = 403


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


class EmailError(SkysiftError):
    """An email could not be sent."""


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


class PositionError(SkysiftError, ValueError):
    """Text that is not a position; the message says which part and why (a ``ValueError`` too,
    as it was)."""

    status = 400


class WebError(SkysiftError):
    """An error of a web request; ``status`` is its HTTP status."""

    status = 400


class BadInput(WebError):
    """Malformed, missing, out-of-range or oversize input (400). ``field`` names the input."""

    status = 400


class NotConfigured(BadInput):
    """The service asked for is not part of this deployment (400, Lasair's answer)."""


class NotLoggedIn(WebError):
    """The page or action needs a logged-in user (401; pages redirect to the login page)."""

    status = 401


class Forbidden(WebError):
    """Logged in, but not allowed (403): not an admin, or not the filter's owner."""

    status = 403


class NotFound(WebError):
    """No such thing, or not one this user may see (404; private things are never 403)."""

    status = 404


class RateLimited(WebError):
    """Too many calls or attempts (429); ``retry_after`` is in seconds."""

    status = 429


class GcnError(SkysiftError):
    """The GCN listener: settings, notices, daemon."""


class GcnKafkaError(GcnError):
    """A fatal error of the GCN Kafka consumer (librdkafka says the client cannot go on: bad
    credentials, fenced, ...): the listener stops, and says why in its status."""


class Stopped(SkysiftError):
    """The loop was asked to stop while a batch waited to be tried again
    (:mod:`skysift.worker`; always caught by the loop)."""

    def __init__(self, message: str = "stopped while a batch waited", **where: Any) -> None:
        super().__init__(message, **where)


class Abandoned(SkysiftError):
    """The batch's partitions were taken away (a rebalance) while it waited: their new owner
    will process it; this worker drops it (:mod:`skysift.worker`; always caught by the loop)."""

    def __init__(self, message: str = "the batch's partitions went to another worker",
                 **where: Any) -> None:
        super().__init__(message, **where)
