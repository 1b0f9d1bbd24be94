"""Fixtures of the web tests: the app on a real store (SQLite and PostgreSQL) and a real broker,
and browser-like clients (each its own cookie jar) that read CSRF tokens from the pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A TestClient with helpers: fetch a page's CSRF token, submit forms, sign up."""

    def __init__(self, app) -> None:
        from fastapi.testclient import TestClient

        self.client = TestClient(app, follow_redirects=False)

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def csrf(self, path: str = "/") -> str:
        page = self.client.get(path)
        m = _CSRF.search(page.text)
        assert m, f"no CSRF token on {path} ({page.status_code})"
        return m.group(1)

    def submit(self, path: str, data: dict, *, form_page: str | None = None,
               csrf: str | None = None):
        """POST ``data`` to ``path`` with the CSRF token of ``form_page`` (default ``path``)."""
        token = csrf if csrf is not None else self.csrf(form_page or "/")
        return self.client.post(path, data={**data, "csrf_token": token})

    def signup(self, name: str, password: str = "s3cret-pass", email: str | None = None):
        r = self.submit("/signup", {"name": name, "email": email or f"{name}@example.org",
                                    "password": password, "password2": password},
                        form_page="/signup")
        assert r.status_code == 200, r.text
        return r

    def token_on(self, page_text: str) -> str:
        m = re.search(r'id="api-token"[^>]*>([0-9a-f]{40})<', page_text)
        assert m, "no API token on the page"
        return m.group(1)

    def user_id_on(self, page_text: str) -> int:
        m = re.search(r'id="user-id">(\d+)<', page_text)
        assert m, "no user id on the page"
        return int(m.group(1))


@pytest.fixture
def web_settings(make_settings, store_url, kafka_bootstrap):
    """Settings on the real broker and the parametrised store."""
    return make_settings(kafka=kafka_bootstrap, database=store_url)


@pytest.fixture
def web_engine(web_settings):
    from skysift.store.database import open_store

    engine = open_store(web_settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(web_settings, web_engine):
    from skysift.web.app import create_app

    return create_app(web_settings, web_engine)


@pytest.fixture
def browser(app):
    """A new browser (cookie jar) on the app: ``browser()``."""
    made: list[Browser] = []

    def factory() -> Browser:
        b = Browser(app)
        made.append(b)
        return b

    yield factory
    for b in made:
        b.client.close()


@pytest.fixture
def alerts_ingested(web_settings, web_engine):
    """The real Rubin test alerts, ingested into the store."""
    from skysift.ingest import ingest_files

    totals = ingest_files(web_settings, [RUBIN], progress=False, engine=web_engine)
    assert totals.ingested >= 6
    return totals
