"""A slow SQL function for the deadline tests, on SQLite and PostgreSQL (a module with its own
name: ``conftest`` is ambiguous when several test folders run together)."""

from __future__ import annotations

import time


def sqlite_sleep(seconds: float) -> int:
    time.sleep(seconds)
    return 0


PG_SLEEP_FUNCTION = (
    "CREATE FUNCTION sleep(double precision) RETURNS integer LANGUAGE plpgsql "
    "AS $$ BEGIN PERFORM pg_sleep($1); RETURN 0; END $$"
)
