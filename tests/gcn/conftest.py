"""Fixtures for the GCN listener tests: the real LVK notices, decompressed once per session, and
settings files in tmp_path."""

from __future__ import annotations

import base64
import copy
import json
import lzma
import tarfile
from pathlib import Path

import pytest
import yaml

LVK = Path(__file__).resolve().parent.parent / "data" / "lvk"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "gcn"


@pytest.fixture(scope="session")
def lvk_dir(tmp_path_factory) -> Path:
    """tests/data/lvk decompressed: *.json notices and MS181101ab/MS220722v maps."""
    out = tmp_path_factory.mktemp("lvk")
    for xz in LVK.glob("*.json.xz"):
        (out / xz.name[:-3]).write_bytes(lzma.decompress(xz.read_bytes()))
    with tarfile.open(LVK / "MS230425k-preliminary-initial.tar.xz") as tar:
        tar.extractall(out, filter="data")
    (out / "MS230425k-retraction.json").write_bytes(
        (LVK / "MS230425k-retraction.json").read_bytes()
    )
    (out / "MS220722v_bayestar.multiorder.fits").write_bytes(
        lzma.decompress((LVK / "MS220722v_bayestar.multiorder.fits.xz").read_bytes()))
    notice = json.loads((out / "MS181101ab-earlywarning.json").read_text())
    (out / "MS181101ab_bayestar.multiorder.fits").write_bytes(
        base64.b64decode(notice["event"]["skymap"])
    )
    return out


@pytest.fixture(scope="session")
def notice_json(lvk_dir):
    """Parsed notice by file stem, e.g. notice_json('S230518h-initial') (a fresh copy each call)."""
    cache: dict[str, dict] = {}

    def get(stem: str) -> dict:
        if stem not in cache:
            cache[stem] = json.loads((lvk_dir / f"{stem}.json").read_text())
        return copy.deepcopy(cache[stem])

    return get


@pytest.fixture
def gcn_settings(tmp_path):
    """Write a settings file in tmp_path and load it: gcn_settings(lvk={...}, **sections)."""
    from skysift.gcn.settings import load_gcn_settings

    def make(lvk: dict | None = None, plugins: dict | None = None, **sections) -> object:
        doc = {
            "version": 1,
            "gcn-kafka": {"client_id": "", "client_secret": "", "group_id": "",
                          "topic": "igwn.gwalert"},
            "lvk": {"parse_mock_events": True, "parse_real_events": True,
                    "download_dir": str(tmp_path / "events"), "json": True,
                    "aitoff": {"convert": False}, "ascii_map": {"convert": True, "nside": 64},
                    "moc": {"convert": True}, "filters": []},
            "plugins": {"enabled": False, "folder": str(tmp_path / "plugins"), "timeout": 10},
        }
        doc["lvk"].update(lvk or {})
        doc["plugins"].update(plugins or {})
        for name, value in sections.items():
            doc.setdefault(name.replace("_", "-"), {}).update(value)
        path = tmp_path / "gcn.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return load_gcn_settings(path)

    return make


def encode_notice(doc: dict) -> bytes:
    return json.dumps(doc).encode()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
