"""Helpers of the REST API tests: the test world, placed objects, a real uvicorn server.

(A module of its own name, so tests import it unambiguously; the fixtures are in conftest.py.)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
#: Centres of the placed objects: ordinary sky, the RA wrap, both poles.
CENTRES = ((10.0, 20.0), (0.0, 5.0), (123.0, 89.995), (200.0, -89.99), (359.9, -30.0))
PLACED_PER_CENTRE = 60
FIRST_PLACED_ID = 9_000_000_000_000_000_001  # above 2**62: exact 64-bit ids


@dataclass
class World:
    """One test deployment: settings, the store, the app and its client, users and tokens."""

    settings: Any
    engine: sa.Engine
    app: Any
    client: Any
    tokens: dict[str, str]
    users: dict[str, Any]
    placed: dict[int, tuple[float, float]] = field(default_factory=dict)
    real_ids: list[int] = field(default_factory=list)

    def headers(self, who: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens[who]}"}

    def get(self, path: str, who: str = "alice", **params: Any):
        return self.client.get(path, params=params, headers=self.headers(who))

    def post(self, path: str, who: str = "alice", **data: Any):
        return self.client.post(path, data=data, headers=self.headers(who))


def placed_objects(seed: int = 7) -> dict[int, tuple[float, float]]:
    """Synthetic positions: uniform in a disc of 1500 arcsec around each centre, wrapped."""
    rng = np.random.default_rng(seed)
    out: dict[int, tuple[float, float]] = {}
    oid = FIRST_PLACED_ID
    for ra0, dec0 in CENTRES:
        for _ in range(PLACED_PER_CENTRE):
            r = 1500.0 / 3600 * np.sqrt(rng.random())
            theta = rng.uniform(0, 2 * np.pi)
            dec = float(np.clip(dec0 + r * np.sin(theta), -90, 90))
            cosd = max(np.cos(np.radians(dec)), 1e-6)
            ra = float((ra0 + r * np.cos(theta) / cosd) % 360.0)
            out[oid] = (ra, dec)
            oid += 1
    return out


def store_world(engine: sa.Engine) -> tuple[dict[int, tuple[float, float]], list[int]]:
    from skysift.alerts.files import iter_alert_files, read_alerts
    from skysift.features.sky import healpix_index
    from skysift.features.update import store_alerts
    from skysift.store.schema import objects

    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    alerts = [a for a in alerts if not isinstance(a, Exception)]
    placed = placed_objects()
    ids = list(placed)
    ras = np.array([placed[i][0] for i in ids])
    decs = np.array([placed[i][1] for i in ids])
    pix = healpix_index(ras, decs)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        result = store_alerts(conn, alerts)
        conn.execute(objects.insert(), [
            {"diaObjectId": i, "ra": float(r), "decl": float(d), "healpix": int(h),
             "nDiaSources": 0, "lastDiaSourceMjdTai": 60000.0 + k, "updated": now}
            for k, (i, r, d, h) in enumerate(zip(ids, ras, decs, pix, strict=True))])
    return placed, list(result.object_ids)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server (in a thread) on a free port; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                            access_log=True, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
