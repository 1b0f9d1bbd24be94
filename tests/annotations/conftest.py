"""Fixtures of the annotation tests: a store (SQLite and PostgreSQL) with users and annotators.

- ``world``: settings on the real Kafka broker and the store; users alice (owns the public
  annotator ``fruitbat`` and the private ``secretbat``) and bob (owns ``bobcat``, public).
- ``live``: the API app on a real uvicorn server (for the ``lasair`` client).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from annot_world import RUBIN, rubin_alerts  # noqa: F401 - helpers of the annotation tests


@dataclass
class World:
    settings: Any
    engine: Any
    users: dict[str, Any]
    tokens: dict[str, str]


@pytest.fixture
def world(make_settings, store_url, kafka_bootstrap):
    from skysift.accounts import add_user
    from skysift.annotations.store import add_annotator
    from skysift.store.database import open_store

    settings = make_settings(kafka=kafka_bootstrap, database=store_url, api_rate_limit=10_000)
    engine = open_store(settings.database_url)
    users, tokens = {}, {}
    with engine.begin() as conn:
        for name in ("alice", "bob"):
            users[name], tokens[name] = add_user(conn, name)
        add_annotator(conn, "fruitbat", users["alice"].id, description="bats", public=True)
        add_annotator(conn, "secretbat", users["alice"].id, public=False)
        add_annotator(conn, "bobcat", users["bob"].id, public=True)
    yield World(settings, engine, users, tokens)
    engine.dispose()


@pytest.fixture
def live(world):
    from api_world import serve

    from skysift.web.api.testing import make_api_app

    with serve(make_api_app(world.settings, world.engine)) as url:
        yield url
