"""``skysift filter add|import|list|show|edit|delete|run``."""

from __future__ import annotations

from pathlib import Path

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["filter_group"]

OUTPUT = click.Choice(["plain", "lite", "full", "email"])
TRIGGER = click.Choice(["none", "alert", "annotation", "both"])


@click.group("filter")
def filter_group() -> None:
    """Lasair-style SQL filters and their Kafka topics."""


def _user(conn, name: str | None):
    from skysift.accounts import get_user

    return get_user(conn, name) if name else None


@filter_group.command("add")
@click.option("--user", "user_name", required=True, help="Owner (name or numeric id).")
@click.option("--name", required=True, help="Filter name (its topic is lasair_<id><name>).")
@click.option("--sql", required=True, help="SELECT ... FROM objects WHERE ...")
@click.option("--description", default="", help="What the filter is for.")
@click.option("--output", type=OUTPUT, default="plain", show_default=True,
              help="Kafka record format, or email: a daily digest to the owner (no topic).")
@click.option("--trigger", type=TRIGGER, default="alert", show_default=True,
              help="alert = runs on every batch of new alerts; annotation = when its "
                   "annotators' annotations arrive; both; none = on demand only.")
@click.option("--public", is_flag=True, help="Let other users see and copy it.")
@click.option("--quota", type=int, default=None, help="Daily byte quota (-1 = unlimited).")
@pass_ctx
def add(ctx: Context, user_name: str, name: str, sql: str, description: str, output: str,
        trigger: str, public: bool, quota: int | None) -> None:
    """Add a filter; prints its topic name."""
    from skysift.cli._common import store
    from skysift.filters.manage import add_filter

    engine = store(ctx.settings)
    with engine.connect() as conn:
        owner = _user(conn, user_name)
    flt = add_filter(engine, ctx.settings, owner, name=name, sql=sql, description=description,
                     trigger=trigger, output=output, public=public, byte_quota=quota)
    click.echo(flt.topic)
    _warn_if_flooding(ctx, engine, flt)


def _warn_if_flooding(ctx: Context, engine, flt) -> None:
    """Say so when a filter saved active would flood its topic (its backtest over the newest
    archived night: more than max_match_fraction of the alerts, or over its byte quota)."""
    from skysift.backtest import flood_check

    warning = flood_check(ctx.settings, engine, flt)
    if warning:
        click.echo(f"warning: filter {flt.name}: {warning}", err=True)


@filter_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def import_(ctx: Context, file: Path) -> None:
    """Add many filters from a YAML or JSON list of {user, name, sql, output, trigger, ...}."""
    import json

    import yaml

    from skysift.accounts import get_user
    from skysift.cli._common import store
    from skysift.errors import ConfigError, SkysiftError
    from skysift.filters.manage import add_filter

    text = file.read_text()
    try:
        items = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse filter list: {exc}", path=str(file)) from exc
    if not isinstance(items, list):
        raise ConfigError("a filter file holds a list of filters", path=str(file))
    engine = store(ctx.settings)
    added = failed = 0
    keys = {"user", "name", "sql", "description", "output", "trigger", "public", "byte_quota"}
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict) or not {"user", "name", "sql"} <= set(item):
                raise ConfigError("each filter needs user, name and sql")
            unknown = set(item) - keys
            if unknown:
                raise ConfigError(f"unknown keys {sorted(unknown)}")
            with engine.connect() as conn:
                owner = get_user(conn, str(item["user"]))
            flt = add_filter(engine, ctx.settings, owner, name=str(item["name"]),
                             sql=str(item["sql"]), description=str(item.get("description", "")),
                             trigger=item.get("trigger", "alert"),
                             output=item.get("output", "plain"),
                             public=bool(item.get("public", False)),
                             byte_quota=item.get("byte_quota"))
            click.echo(f"{flt.name}: {flt.topic}")
            added += 1
        except SkysiftError as exc:
            click.echo(f"skysift: {file}: entry {i}: {exc}", err=True)
            failed += 1
    click.echo(f"added {added}, failed {failed}")
    if failed:
        raise click.exceptions.Exit(1)


@filter_group.command("list")
@click.option("--user", "user_name", default=None, help="Only this user's filters.")
@pass_ctx
def list_(ctx: Context, user_name: str | None) -> None:
    """List filters with their topics."""
    from skysift.cli._common import print_table, store
    from skysift.filters.manage import list_filters

    with store(ctx.settings).connect() as conn:
        flts = list_filters(conn, _user(conn, user_name))
    print_table([{"id": f.id, "user": f.user_name, "name": f.name, "trigger": f.trigger,
                  "output": f.output, "public": f.public, "topic": f.topic,
                  "error": "yes" if f.last_error else ""} for f in flts])


@filter_group.command("show")
@click.argument("name")
@click.option("--user", "user_name", default=None, help="Owner, when names clash.")
@pass_ctx
def show(ctx: Context, name: str, user_name: str | None) -> None:
    """Show one filter: SQL, settings, topic, today's counts, last error."""
    import sqlalchemy as sa

    from skysift.cli._common import store
    from skysift.filters.manage import get_filter
    from skysift.store.schema import topic_stats
    from skysift.streams.output import utc_today

    with store(ctx.settings).connect() as conn:
        f = get_filter(conn, name, _user(conn, user_name))
        stats = conn.execute(sa.select(topic_stats).where(
            topic_stats.c.topic == f.topic, topic_stats.c.day == utc_today())).first()
    click.echo(f"name:        {f.name}   (id {f.id}, owner {f.user_name} #{f.user_id})")
    click.echo(f"topic:       {f.topic}")
    click.echo(f"trigger:     {f.trigger}    output: {f.output}    public: {f.public}")
    click.echo(f"description: {f.description}")
    click.echo(f"sql:         {f.sql}")
    m = stats._mapping if stats is not None else {}
    quota = "unlimited" if f.byte_quota < 0 else f"{f.byte_quota:,}"
    click.echo(f"today:       {m.get('records_produced', 0)} records "
               f"({m.get('bytes_produced', 0):,} bytes of quota {quota}), "
               f"{m.get('records_rejected', 0)} rejected")
    if f.expires:
        click.echo(f"expires:     {f.expires:%Y-%m-%d %H:%M} UTC (save it again to renew)")
    if f.last_error:
        click.echo(f"last error:  {f.last_error}  (at {f.last_error_at})")
    if f.topic is not None:
        click.echo(f"consume:     {consume_command(ctx, f.topic)}")


def consume_command(ctx: Context, topic: str) -> str:
    """The `skysift consume` line for ``topic`` with the global options this run was given
    (data directory, config file, Kafka), so it works when pasted as it is."""
    import shlex

    parts = [".venv/bin/skysift"]
    if ctx.overrides.get("data_dir") is not None:
        parts += ["--data-dir", str(ctx.overrides["data_dir"])]
    if ctx.config_file:
        parts += ["--config", str(ctx.config_file)]
    if ctx.overrides.get("kafka"):
        parts += ["--kafka", str(ctx.overrides["kafka"])]
    parts += ["consume", "--topic", topic, "--group-id", "my-group", "--timeout", "10"]
    return " ".join(shlex.quote(p) for p in parts)


@filter_group.command("edit")
@click.argument("name")
@click.option("--user", "user_name", default=None, help="Owner, when names clash.")
@click.option("--new-name", default=None, help="Rename (the topic is renamed too).")
@click.option("--sql", default=None)
@click.option("--description", default=None)
@click.option("--output", type=OUTPUT, default=None)
@click.option("--trigger", type=TRIGGER, default=None)
@click.option("--public/--private", default=None)
@click.option("--quota", type=int, default=None, help="Daily byte quota (-1 = unlimited).")
@pass_ctx
def edit(ctx: Context, name: str, user_name: str | None, new_name: str | None, sql: str | None,
         description: str | None, output: str | None, trigger: str | None, public: bool | None,
         quota: int | None) -> None:
    """Change a filter; its topic is emptied and seeded with up to 10 records."""
    from skysift.cli._common import store
    from skysift.filters.manage import edit_filter, get_filter

    engine = store(ctx.settings)
    with engine.connect() as conn:
        f = get_filter(conn, name, _user(conn, user_name))
    new = edit_filter(engine, ctx.settings, f, name=new_name, sql=sql, description=description,
                      output=output, trigger=trigger, public=public, byte_quota=quota)
    click.echo(new.topic)
    _warn_if_flooding(ctx, engine, new)


@filter_group.command("delete")
@click.argument("name")
@click.option("--user", "user_name", default=None, help="Owner, when names clash.")
@pass_ctx
def delete(ctx: Context, name: str, user_name: str | None) -> None:
    """Delete a filter and its topic."""
    from skysift.cli._common import store
    from skysift.filters.manage import delete_filter, get_filter

    engine = store(ctx.settings)
    with engine.connect() as conn:
        f = get_filter(conn, name, _user(conn, user_name))
    delete_filter(engine, ctx.settings, f)
    click.echo(f"deleted {f.name} and topic {f.topic}")


@filter_group.command("run")
@click.argument("name")
@click.option("--user", "user_name", default=None, help="Owner, when names clash.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Row limit (default: run_row_limit).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def run(ctx: Context, name: str, user_name: str | None, limit: int | None, as_json: bool) -> None:
    """Run a filter now over the whole store (read-only) and print the rows."""
    from skysift.cli._common import print_json_lines, print_table, store
    from skysift.filters.manage import get_filter, run_filter
    from skysift.streams.records import HIDDEN_KEY

    with store(ctx.settings).connect() as conn:
        f = get_filter(conn, name, _user(conn, user_name))
        result = run_filter(conn, ctx.settings, f.sql, name=f.name, limit=limit,
                            user_id=f.user_id)
    rows = [{k: v for k, v in r.items() if k != HIDDEN_KEY} for r in result.rows]
    if as_json:
        print_json_lines(rows)
    else:
        print_table(rows)
    more = " (truncated at the row limit)" if result.truncated else ""
    click.echo(f"{len(rows)} rows in {result.elapsed_s:.3f} s{more}", err=True)


def _nights_option(nights: int | None, first: str | None, last: str | None) -> dict:
    from skysift.archive import parse_nights

    if first or last:
        if nights is not None:
            raise click.UsageError("give --nights N or --from/--to, not both")
        if not (first and last):
            raise click.UsageError("--from and --to go together")
        return {"nights": parse_nights(f"{first}..{last}")}
    return {"last": nights or 7}


def _progress_bar(label: str):
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(night: str, done: int, total: int) -> None:
        bar = bars.get(night)
        if bar is None:
            for old in bars.values():
                old.close()
            bar = bars[night] = tqdm(total=total, unit="alert", desc=f"{label} {night}",
                                     leave=False)
        bar.update(done - bar.n)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return progress, close


@filter_group.command("backtest")
@click.argument("name")
@click.option("--user", "user_name", default=None, help="Owner, when names clash.")
@click.option("--nights", type=click.IntRange(1), default=None,
              help="The newest N archived nights (default 7).")
@click.option("--from", "first", default=None, metavar="DATE", help="First night, YYYY-MM-DD.")
@click.option("--to", "last", default=None, metavar="DATE", help="Last night, YYYY-MM-DD.")
@click.option("--sql", default=None, help="Try this SQL instead of the saved one (unsaved).")
@click.option("--output", type=OUTPUT, default=None, help="Try this output format.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@pass_ctx
def backtest_cmd(ctx: Context, name: str, user_name: str | None, nights: int | None,
                 first: str | None, last: str | None, sql: str | None, output: str | None,
                 as_json: bool, no_progress: bool) -> None:
    """Run a filter over archived nights as the live pipeline would have, and count.

    Per night: alerts, records it would have produced, bytes, the filter's time per batch
    (p50/p99) and the first matching objects. Nothing is sent."""
    import dataclasses

    from skysift.backtest import backtest, flood_warning, report_json, report_text
    from skysift.cli._common import store
    from skysift.filters.manage import get_filter

    engine = store(ctx.settings)
    with engine.connect() as conn:
        f = get_filter(conn, name, _user(conn, user_name))
    f = dataclasses.replace(f, sql=sql or f.sql, output=output or f.output)
    progress, close = _progress_bar("backtest")
    try:
        report = backtest(ctx.settings, engine, f, progress=None if no_progress else progress,
                          **_nights_option(nights, first, last))
    finally:
        close()
    click.echo(report_json(report) if as_json else report_text(report))
    warning = flood_warning(ctx.settings, report, f.byte_quota)
    if warning and not as_json:
        click.echo(f"warning: {warning}", err=True)


@filter_group.command("replay")
@click.argument("name")
@click.option("--user", "user_name", default=None, help="Owner, when names clash.")
@click.option("--from", "first", required=True, metavar="DATE", help="First night, YYYY-MM-DD.")
@click.option("--to", "last", required=True, metavar="DATE", help="Last night, YYYY-MM-DD.")
@click.option("--topic", default=None,
              help="Produce into this topic instead of the filter's (created if missing).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@pass_ctx
def replay_cmd(ctx: Context, name: str, user_name: str | None, first: str, last: str,
               topic: str | None, no_progress: bool) -> None:
    """Produce the records a filter would have produced over archived nights into its topic,
    in time order, with the Kafka header reason=replay, under its daily byte quota."""
    from skysift.backtest import replay, report_text
    from skysift.cli._common import store
    from skysift.filters.manage import get_filter
    from skysift.streams.kafka import make_admin, make_producer
    from skysift.streams.topics import ensure_topics

    engine = store(ctx.settings)
    with engine.connect() as conn:
        f = get_filter(conn, name, _user(conn, user_name))
    target = topic or f.topic
    if target:
        ensure_topics(make_admin(ctx.settings), ctx.settings, {target})
    producer = make_producer(ctx.settings)
    progress, close = _progress_bar("replay")
    try:
        report = replay(ctx.settings, engine, f, producer, topic=topic,
                        progress=None if no_progress else progress,
                        **_nights_option(None, first, last))
    finally:
        close()
        producer.flush(30)
    click.echo(report_text(report))
    click.echo(f"{report.records} records produced to {report.topic}")
