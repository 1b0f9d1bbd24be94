"""``skysift consume``: print a topic's records, one JSON object per line, for people and
scripts."""

from __future__ import annotations

import contextlib

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["consume"]


@click.command()
@click.option("--topic", required=True, help="Topic to read, e.g. lasair_1MyFilter.")
@click.option("--group-id", required=True,
              help="Consumer group: the same id resumes where it stopped; a new id starts at "
                   "the oldest record kept.")
@click.option("--from-beginning", is_flag=True,
              help="Start at the oldest record even if the group has read some already.")
@click.option("--max", "max_records", type=int, default=None, help="Stop after N records.")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Stop after S seconds without a record.")
@click.option("--headers", is_flag=True, help="Add the Kafka key and headers as _key/_headers.")
@pass_ctx
def consume(ctx: Context, topic: str, group_id: str, from_beginning: bool,
            max_records: int | None, timeout: float, headers: bool) -> None:
    """Print TOPIC's records as JSON lines (stdout); a count goes to stderr."""
    import json
    import sys
    import time

    from confluent_kafka import OFFSET_BEGINNING, KafkaError

    from skysift.streams.kafka import make_consumer

    consumer = make_consumer(ctx.settings, group_id)

    def on_assign(c, partitions):
        if from_beginning:
            for p in partitions:
                p.offset = OFFSET_BEGINNING
        c.assign(partitions)

    consumer.subscribe([topic], on_assign=on_assign)
    n = 0
    last = time.monotonic()
    warned = False
    try:
        while max_records is None or n < max_records:
            if time.monotonic() - last > timeout:
                break
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART and not warned:
                    click.echo(f"topic {topic} has no records yet (UNKNOWN_TOPIC_OR_PART); "
                               "waiting", err=True)
                    warned = True
                elif err.code() not in (KafkaError._PARTITION_EOF,
                                        KafkaError.UNKNOWN_TOPIC_OR_PART):
                    click.echo(f"skysift: Kafka: {err.str()}", err=True)
                continue
            last = time.monotonic()
            value = msg.value() or b""
            if headers:
                try:
                    record = json.loads(value)
                except ValueError:
                    record = {"_value": value.decode(errors="replace")}
                record["_key"] = _text(msg.key())
                found = msg.headers() or []
                pairs = found.items() if isinstance(found, dict) else found
                record["_headers"] = {k: _text(v) for k, v in pairs}
                line = json.dumps(record)
            else:
                line = value.decode(errors="replace")
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            n += 1
            consumer.commit(message=msg, asynchronous=True)
    finally:
        with contextlib.suppress(Exception):  # nothing to commit is fine
            consumer.commit(asynchronous=False)
        consumer.close()
    click.echo(f"{n} records from {topic}", err=True)


def _text(raw: str | bytes | None) -> str:
    """A record's key or header value as text (bytes decoded, undecodable bytes replaced)."""
    if isinstance(raw, str):
        return raw
    return (raw or b"").decode(errors="replace")
