"""Email filters: matches wait in ``email_pending``; a digest is built from them.

A pending match is the record a Kafka filter would have produced in ``plain`` form: the selected
columns and ``UTC`` (no light curve), kept as JSON with the object's diaObjectId and the
diaSourceId of the detection that triggered it. ``(filter_id, diaSourceId)`` is unique, so a batch
processed again after a crash adds nothing twice.

A digest is one email holding every pending match of one filter: a text part and an HTML part
with a table (each object linked to ``<public_url>/objects/<diaObjectId>``) and the records as a
JSON attachment.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import sqlalchemy as sa

from skysift.config import Settings
from skysift.streams.deliver import row_object_id
from skysift.store.schema import email_pending as ep
from skysift.streams.output import TopicCounts, load_today_bytes, save_counts
from skysift.streams.records import encode_record, make_record

__all__ = ["Pending", "build_digest", "load_pending", "object_url", "queue_matches"]


@dataclass(frozen=True)
class Pending:
    id: int
    diaObjectId: int | None
    record: dict[str, Any]


def object_url(settings: Settings, object_id: int | None) -> str | None:
    return f"{settings.web_url}/objects/{object_id}" if object_id is not None else None


def queue_matches(conn: sa.Connection, settings: Settings, flt: Any,
                  rows: Sequence[Mapping[str, Any]], utc: str,
                  source_id_for: Callable[[int], int | None], now: datetime) -> tuple[int, int]:
    """Keep ``rows`` (one batch's matches of email filter ``flt``) for its next digest.

    Returns (queued, rejected): matches past ``email_max_records`` waiting, or past the filter's
    daily byte quota, are rejected. Both are counted in ``topic_stats`` under the filter's topic
    name, like a Kafka filter's records, so its page shows them.
    """

    waiting = conn.execute(sa.select(sa.func.count()).select_from(ep)
                           .where(ep.c.filter_id == flt.id)).scalar() or 0
    items = []
    for row in rows:
        oid = row_object_id(row)
        sid = source_id_for(oid) if oid is not None else None
        items.append((oid, sid, encode_record(make_record(row, utc))))
    sids = [sid for _, sid, _ in items if sid is not None]
    seen = set(conn.execute(sa.select(ep.c.diaSourceId).where(
        ep.c.filter_id == flt.id, ep.c.diaSourceId.in_(sids))).scalars()) if sids else set()
    used = load_today_bytes(conn, now.date()).get(flt.topic, 0) if flt.topic else 0
    counts = TopicCounts()
    values: list[dict[str, Any]] = []
    for oid, sid, value in items:
        if sid is not None and sid in seen:
            continue  # this batch was processed before (a crash between store and commit)
        size = len(value)
        if (waiting + len(values) >= settings.email_max_records
                or (flt.byte_quota >= 0 and used + size > flt.byte_quota)):
            counts.records_rejected += 1
            counts.bytes_rejected += size
            continue
        used += size
        counts.records_produced += 1
        counts.bytes_produced += size
        values.append({"filter_id": flt.id, "diaObjectId": oid, "diaSourceId": sid,
                       "record": value.decode(), "matched": now})
    if values:
        conn.execute(ep.insert(), values)
        counts.last_record_at = now
    if flt.topic:
        save_counts(conn, {flt.topic: counts}, now.date())
    return counts.records_produced, counts.records_rejected


def load_pending(conn: sa.Connection, filter_id: int, limit: int) -> list[Pending]:
    rows = conn.execute(sa.select(ep.c.id, ep.c.diaObjectId, ep.c.record)
                        .where(ep.c.filter_id == filter_id).order_by(ep.c.id).limit(limit))
    return [Pending(int(r.id), r.diaObjectId, json.loads(r.record)) for r in rows]


def _columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    for rec in records:
        for k in rec:
            if k not in cols:
                cols.append(k)
    if "UTC" in cols:  # UTC last, as in the records
        cols.remove("UTC")
        cols.append("UTC")
    return cols


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def new_message(settings: Settings, to: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.email_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings.email_from.rpartition("@")[2] or None)
    return msg


def build_digest(settings: Settings, flt: Any, to: str, pending: Sequence[Pending],
                 since: datetime | None, now: datetime) -> EmailMessage:
    """The digest email of ``pending`` (the matches of ``flt`` since ``since``)."""
    records = [p.record for p in pending]
    cols = _columns(records)
    n = len(records)
    page = f"{settings.web_url}/filters/{flt.id}"
    period = (f"since {since:%Y-%m-%d %H:%M:%S} UTC" if since is not None
              else "since the filter started")
    subject = f"skysift: {n} new object{'s' if n != 1 else ''} from your filter {flt.name}"
    msg = new_message(settings, to, subject)
    msg["X-Skysift-Filter"] = str(flt.id)

    widths = {c: max([len(c)] + [len(_text(r.get(c))) for r in records]) for c in cols}
    lines = [f"Your skysift filter {flt.name} matched {n} object{'s' if n != 1 else ''} {period}.",
             f"The filter: {page}", "",
             "  ".join(c.ljust(widths[c]) for c in cols) + "  page",
             "  ".join("-" * widths[c] for c in cols) + "  ----"]
    for p in pending:
        lines.append("  ".join(_text(p.record.get(c)).ljust(widths[c]) for c in cols)
                     + "  " + (object_url(settings, p.diaObjectId) or ""))
    lines += ["", "The records are attached as JSON. You get at most one of these emails a day;",
              f"to stop them, edit the filter at {page} (trigger: none, or a Kafka output)."]
    msg.set_content("\n".join(lines) + "\n")

    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body_rows = []
    for p in pending:
        url = object_url(settings, p.diaObjectId)
        cells = []
        for c in cols:
            text = esc(_text(p.record.get(c)))
            if c in ("diaObjectId", "objectId") and url:
                text = f'<a href="{esc(url)}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        link = f'<a href="{esc(url)}">page</a>' if url else ""
        body_rows.append(f"<tr>{''.join(cells)}<td>{link}</td></tr>")
    html_body = (
        "<!doctype html><html><body>"
        f"<p>Your skysift filter <a href=\"{esc(page)}\">{esc(flt.name)}</a> matched "
        f"<b>{n}</b> object{'s' if n != 1 else ''} {esc(period)}.</p>"
        f"<table border=\"1\" cellpadding=\"3\" cellspacing=\"0\"><thead><tr>{head}<th>page</th>"
        f"</tr></thead><tbody>{''.join(body_rows)}</tbody></table>"
        "<p>The records are attached as JSON. You get at most one of these emails a day.</p>"
        "</body></html>")
    msg.add_alternative(html_body, subtype="html")
    attachment = json.dumps(records, indent=1, default=str).encode()
    msg.add_attachment(attachment, maintype="application", subtype="json",
                       filename=f"{flt.topic or flt.name}-{now:%Y%m%dT%H%M%SZ}.json")
    return msg
