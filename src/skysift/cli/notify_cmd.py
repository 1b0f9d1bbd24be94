"""``skysift notify run|show``: send due email digests, failure notices, expiry warnings; expire.

``skysift ingest --from-kafka`` and ``skysift serve`` already do this every ``notify_interval_s``
(and at once after a batch with email matches). ``notify run`` is for cron, when ingest runs
elsewhere or ``notify_interval_s`` is 0.
"""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["notify"]


@click.group()
def notify() -> None:
    """Email: daily digests of email filters, failure notices, filter expiry."""


def _where(settings) -> str:
    if settings.smtp_host:
        return f"SMTP {settings.smtp_host}:{settings.smtp_port or '(default port)'}"
    return f".eml files in {settings.maildir / 'new'}"


@notify.command("run")
@pass_ctx
def run(ctx: Context) -> None:
    """Send whatever is due now (at most one digest per filter a day), then exit."""
    from skysift.cli._common import store
    from skysift.notify import Notifier

    settings = ctx.settings
    report = Notifier(settings, store(settings)).run()
    for name, n in sorted(report.digests.items()):
        click.echo(f"  digest of {name}: {n} matches")
    for what, names in (("failure notice", report.failure_notices),
                        ("expiry warning", report.expiry_warnings), ("expired", report.expired)):
        for name in names:
            click.echo(f"  {what}: {name}")
    for err in report.errors:
        click.echo(f"  not sent: {err}", err=True)
    click.echo(f"{report.summary()}; emails go to {_where(settings)}")


@notify.command("show")
@pass_ctx
def show(ctx: Context) -> None:
    """Email filters: matches waiting, last digest, and where emails go."""
    import sqlalchemy as sa

    from skysift.cli._common import print_table, store
    from skysift.store.schema import email_pending as ep
    from skysift.store.schema import filters, users

    settings = ctx.settings
    with store(settings).connect() as conn:
        waiting = dict(conn.execute(sa.select(ep.c.filter_id, sa.func.count())
                                    .group_by(ep.c.filter_id)).all())
        rows = conn.execute(sa.select(filters.c.id, filters.c.name, users.c.name.label("owner"),
                                      users.c.email, filters.c.trigger, filters.c.last_email_at,
                                      filters.c.expires)
                            .join(users, users.c.id == filters.c.user_id)
                            .where(filters.c.output == "email").order_by(filters.c.id)).all()
    print_table([{"id": r.id, "name": r.name, "owner": r.owner, "email": r.email or "(none)",
                  "trigger": r.trigger, "waiting": waiting.get(r.id, 0),
                  "last_email": r.last_email_at, "expires": r.expires} for r in rows])
    click.echo(f"emails go to {_where(settings)}")
