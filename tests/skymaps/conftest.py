"""Sky maps for the skymaps tests, decompressed from tests/data/lvk once per session."""

from __future__ import annotations

import base64
import json
import lzma
from pathlib import Path

import pytest

LVK = Path(__file__).resolve().parent.parent / "data" / "lvk"


@pytest.fixture(scope="session")
def map_bytes() -> dict[str, bytes]:
    """FITS bytes: MS181101ab (BAYESTAR, orders 4-11), S230518h (PE, 4-9), MS220722v (BAYESTAR,
    4-9)."""
    out = {}
    for name, stem in (("MS181101ab", "MS181101ab-earlywarning"), ("S230518h", "S230518h-initial")):
        notice = json.loads(lzma.decompress((LVK / f"{stem}.json.xz").read_bytes()))
        out[name] = base64.b64decode(notice["event"]["skymap"])
    out["MS220722v"] = lzma.decompress((LVK / "MS220722v_bayestar.multiorder.fits.xz").read_bytes())
    return out


@pytest.fixture(scope="session")
def maps(map_bytes):
    from skysift.skymaps.multiorder import read_multiorder

    return {k: read_multiorder(v, where=k) for k, v in map_bytes.items()}
