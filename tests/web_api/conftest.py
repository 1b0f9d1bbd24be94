"""Fixtures of the REST API tests: a store with real alerts and placed objects, users, clients.

- ``api``: a :class:`~api_world.World` on SQLite and on PostgreSQL (``store_url``): the store
  holds the real Rubin alerts of tests/data/rubin and synthetic objects at known positions (for
  cone searches, around the RA wrap and both poles too); users ``alice``, ``bob`` (normal) and
  ``carol`` (power user); an in-process client (FastAPI's TestClient) on ``make_api_app``.
- ``make_world(**settings)``: the same with settings changed.
- ``live``: a real uvicorn server on a free port serving ``api.app`` (for the ``lasair``
  client), stopped at the end.
"""

from __future__ import annotations

from typing import Any

import pytest

from api_world import World, serve, store_world


@pytest.fixture
def make_world(make_settings, store_url):
    """Build a World with settings overrides: ``make_world(api_rate_limit=3)``."""
    from fastapi.testclient import TestClient

    from skysift.accounts import add_user
    from skysift.store.database import open_store
    from skysift.store.schema import users
    from skysift.web.api.testing import make_api_app

    made: list[World] = []

    def factory(**overrides: Any) -> World:
        overrides.setdefault("api_rate_limit", 10_000)
        settings = make_settings(database=store_url, **overrides)
        engine = open_store(settings.database_url)
        tokens, people = {}, {}
        with engine.begin() as conn:
            for name in ("alice", "bob", "carol"):
                people[name], tokens[name] = add_user(conn, name)
            conn.execute(users.update().where(users.c.name == "carol").values(is_power=True))
        from skysift.accounts import get_user

        with engine.connect() as conn:
            people["carol"] = get_user(conn, "carol")
        placed, real = store_world(engine)
        app = make_api_app(settings, engine)
        world = World(settings, engine, app, TestClient(app), tokens, people, placed, real)
        made.append(world)
        return world

    yield factory
    for w in made:
        w.client.close()
        w.engine.dispose()


@pytest.fixture
def api(make_world) -> World:
    return make_world()


@pytest.fixture
def live(api):
    """A real uvicorn server serving ``api.app``; yields its base URL."""
    with serve(api.app) as url:
        yield url
