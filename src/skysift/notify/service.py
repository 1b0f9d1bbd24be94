"""What email is due, and sending it: digests, failure notices, expiry warnings and expiries.

:class:`Notifier` takes a clock (a callable returning an aware UTC datetime) so tests can move
time by days. :meth:`Notifier.run` does one pass; :meth:`Notifier.tick` is what the ingest loops
call after every batch and when idle: a pass every ``notify_interval_s`` (and at once after a
batch that queued email matches, so a filter's first match is emailed at once). A pass never
raises: a message that cannot be sent is logged and tried again on the next pass (nothing is
marked sent until it was sent).

Rules (ZTF-era Lasair's throttle, see docs/email.md):

- digest: an email filter with pending matches is sent them all when it has never sent one, or
  when ``email_min_interval_s`` (24 h) has passed since the last; then they are deleted. No
  matches, no email.
- failure notice: a filter whose last run failed after the last notice, and whose last notice is
  older than ``email_min_interval_s`` (or none yet), gets one email naming the error.
- warning: an active filter ``filter_expiry_warning_days`` or less before ``expires`` is warned
  once (saving it again sets a new expiry and clears the warning).
- expiry: an active filter past ``expires`` is deactivated (trigger ``none``: nothing more is
  produced, its topic stays until Kafka's retention empties it) and its owner told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from skysift.config import Settings
from skysift.notify.digest import build_digest, load_pending, new_message
from skysift.notify.mail import EmailError, Sender, sender_for
from skysift.store.schema import filters, users
from skysift.store.schema import email_pending as ep

__all__ = ["Clock", "Notifier", "NotifyReport"]

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class NotifyReport:
    """What one pass sent (filter names) and where the messages went."""

    digests: dict[str, int] = field(default_factory=dict)  # filter -> matches sent
    failure_notices: list[str] = field(default_factory=list)
    expiry_warnings: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sent_to: list[str] = field(default_factory=list)

    @property
    def emails(self) -> int:
        return (len(self.digests) + len(self.failure_notices) + len(self.expiry_warnings)
                + len(self.expired))

    def summary(self) -> str:
        return (f"{len(self.digests)} digests ({sum(self.digests.values())} matches), "
                f"{len(self.failure_notices)} failure notices, "
                f"{len(self.expiry_warnings)} expiry warnings, {len(self.expired)} filters expired"
                + (f"; {len(self.errors)} errors" if self.errors else ""))


class Notifier:
    """Sends what is due. ``clock`` and ``sender`` are injectable (tests)."""

    def __init__(self, settings: Settings, engine: sa.Engine, *, clock: Clock = utc_now,
                 sender: Sender | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.sender = sender or sender_for(settings)
        self._last_pass: float | None = None

    # ------------------------------------------------------------------ the loop's hook
    def tick(self, *, force: bool = False) -> NotifyReport | None:
        """A pass if ``notify_interval_s`` has passed since the last (or ``force``); never
        raises."""
        interval = self.settings.notify_interval_s
        if interval <= 0:
            return None
        mono = time.monotonic()
        if not force and self._last_pass is not None and mono - self._last_pass < interval:
            return None
        self._last_pass = mono
        try:
            report = self.run()
        except Exception:
            log.exception("the email pass failed; trying again in %.0f s", interval)
            return None
        if report.emails or report.errors:
            log.info("email: %s", report.summary())
        return report

    # ------------------------------------------------------------------ one pass
    def run(self, now: datetime | None = None) -> NotifyReport:
        """Send every due digest, failure notice and expiry warning; expire filters."""
        now = now or self.clock()
        report = NotifyReport()
        self._expiries(now, report)
        self._digests(now, report)
        self._failure_notices(now, report)
        return report

    def _interval(self) -> timedelta:
        return timedelta(seconds=self.settings.email_min_interval_s)

    def _send(self, msg: Any, what: str, report: NotifyReport) -> bool:
        try:
            where = self.sender.send(msg)
        except EmailError as exc:
            log.warning("%s not sent: %s", what, exc)
            report.errors.append(f"{what}: {exc}")
            return False
        report.sent_to.append(where)
        log.info("%s sent to %s (%s)", what, msg["To"], where)
        return True

    def _owners(self, conn: sa.Connection) -> sa.Select:
        # only a confirmed address receives mail (skysift.web.verify)
        confirmed = sa.case((users.c.email_verified_at.is_not(None), users.c.email), else_=None)
        return sa.select(filters, confirmed.label("owner_email"),
                         users.c.email.label("owner_address"),
                         users.c.name.label("owner_name")).join(users,
                                                                users.c.id == filters.c.user_id)

    def _no_address(self, what: str, row: Any, report: NotifyReport) -> None:
        if row.owner_address:
            msg = (f"{what}: user {row.owner_name} has not confirmed the email address "
                   f"{row.owner_address}; nothing sent")
        else:
            msg = f"{what}: user {row.owner_name} has no email address"
        log.warning(msg)
        report.errors.append(msg)

    # ------------------------------------------------------------------ digests
    def _digests(self, now: datetime, report: NotifyReport) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(self._owners(conn).where(
                filters.c.output == "email",
                sa.exists().where(ep.c.filter_id == filters.c.id))).all()
        for row in rows:
            last = row.last_email_at
            if last is not None and now - last < self._interval():
                continue  # the 24-hour window: the matches wait
            if not row.owner_email:
                self._no_address(f"digest of filter {row.name}", row, report)
                continue
            # claim the digest before sending: several ingest workers may run this pass at
            # once, and only the one whose update still finds last_email_at as it read it sends
            if not self._claim(filters.c.last_email_at, row.id, last, now):
                continue  # another worker is sending (or has sent) it
            with self.engine.connect() as conn:
                pending = load_pending(conn, row.id, self.settings.email_max_records)
            msg = (build_digest(self.settings, row, row.owner_email, pending, last, now)
                   if pending else None)
            if msg is None or not self._send(msg, f"digest of filter {row.name}", report):
                self._claim(filters.c.last_email_at, row.id, now, last)  # not sent: window unused
                continue
            with self.engine.begin() as conn:
                conn.execute(ep.delete().where(ep.c.filter_id == row.id,
                                               ep.c.id <= pending[-1].id))
            report.digests[row.name] = len(pending)

    def _claim(self, column: Any, filter_id: int, expected: datetime | None,
               value: datetime | None) -> bool:
        """Compare-and-set of a filter's time ``column``: True when it was ``expected``."""

        was = column.is_(None) if expected is None else column == expected
        with self.engine.begin() as conn:
            done = conn.execute(filters.update().where(filters.c.id == filter_id, was)
                                .values({column.name: value}))
        return done.rowcount == 1

    # ------------------------------------------------------------------ failures
    def _failure_notices(self, now: datetime, report: NotifyReport) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(self._owners(conn).where(filters.c.last_error.is_not(None),
                                                         filters.c.last_error_at.is_not(None))).all()
        for row in rows:
            noticed = row.error_email_at
            if noticed is not None and (row.last_error_at <= noticed
                                        or now - noticed < self._interval()):
                continue  # told already about this failure, or within the day
            if not row.owner_email:
                self._no_address(f"failure notice of filter {row.name}", row, report)
                continue
            page = f"{self.settings.web_url}/filters/{row.id}"
            msg = new_message(self.settings, row.owner_email,
                              f"skysift: your filter {row.name} failed to run")
            msg.set_content(
                f"Your skysift filter {row.name} (topic {row.topic}) failed to run on new alerts "
                f"at {row.last_error_at:%Y-%m-%d %H:%M:%S} UTC:\n\n    {row.last_error}\n\n"
                f"It keeps running on every batch; while it fails it produces nothing. You get at "
                f"most one such email a day. Fix or deactivate it at {page}\n")
            # claimed first, as digests are: one worker sends it; a failed send gives it back
            if not self._claim(filters.c.error_email_at, row.id, noticed, now):
                continue
            if self._send(msg, f"failure notice of filter {row.name}", report):
                report.failure_notices.append(row.name)
            else:
                self._claim(filters.c.error_email_at, row.id, now, noticed)

    # ------------------------------------------------------------------ expiry
    def _expiries(self, now: datetime, report: NotifyReport) -> None:
        if self.settings.filter_expiry_days <= 0:
            return
        warn_before = timedelta(days=self.settings.filter_expiry_warning_days)
        with self.engine.connect() as conn:
            rows = conn.execute(self._owners(conn).where(filters.c.trigger != "none",
                                                         filters.c.expires.is_not(None),
                                                         filters.c.expires <= now + warn_before)
                                ).all()
        for row in rows:
            page = f"{self.settings.web_url}/filters/{row.id}"
            if row.expires <= now:
                with self.engine.begin() as conn:
                    done = conn.execute(filters.update().where(
                        filters.c.id == row.id, filters.c.trigger != "none",
                        filters.c.expires == row.expires).values(trigger="none"))
                if not done.rowcount:
                    continue  # saved again meanwhile
                report.expired.append(row.name)
                log.info("filter %s (topic %s) expired and is now inactive", row.name, row.topic)
                if not row.owner_email:
                    self._no_address(f"expiry notice of filter {row.name}", row, report)
                    continue
                msg = new_message(self.settings, row.owner_email,
                                  f"skysift: your filter {row.name} has expired")
                msg.set_content(
                    f"Your skysift filter {row.name} was active for "
                    f"{self.settings.filter_expiry_days} days and has now expired: it no longer "
                    f"runs on new alerts (its trigger is now 'none'). Records already in its "
                    f"topic {row.topic} stay until Kafka's retention removes them.\n\n"
                    f"To activate it again for another {self.settings.filter_expiry_days} days, "
                    f"edit it and choose a trigger: {page}\n")
                self._send(msg, f"expiry notice of filter {row.name}", report)
            elif row.expiry_warned_at is None:
                if not row.owner_email:
                    self._no_address(f"expiry warning of filter {row.name}", row, report)
                    continue
                days = max(0, (row.expires - now).days)
                msg = new_message(self.settings, row.owner_email,
                                  f"skysift: your filter {row.name} expires in {days} days")
                msg.set_content(
                    f"Your active skysift filter {row.name} expires on "
                    f"{row.expires:%Y-%m-%d %H:%M} UTC ({days} days from now): it will then stop "
                    f"running on new alerts.\n\nTo keep it running, save it again (edit it and "
                    f"click Save); that sets a new expiry {self.settings.filter_expiry_days} "
                    f"days ahead: {page}\n")
                if self._send(msg, f"expiry warning of filter {row.name}", report):
                    with self.engine.begin() as conn:
                        conn.execute(filters.update().where(filters.c.id == row.id)
                                     .values(expiry_warned_at=now))
                    report.expiry_warnings.append(row.name)
