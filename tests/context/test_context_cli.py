"""`skysift watchlist | watchmap | gw` on a SQLite store, as a user types them."""

from __future__ import annotations

import pytest
from ctx_world import LVK

from skysift.cli.main import main


def _run(capsys, data, *argv):
    try:
        main(["--data-dir", str(data), *argv])
    except SystemExit as exc:
        if exc.code not in (0, None):
            err = capsys.readouterr().err
            raise AssertionError(f"skysift {' '.join(argv)} exited {exc.code}: {err}") from None
    return capsys.readouterr()


def test_watchlist_and_watchmap_commands(tmp_path, capsys):
    data = tmp_path / "data"
    _run(capsys, data, "user", "add", "alice")
    cones = tmp_path / "agn.txt"
    cones.write_text("# ra, dec, name, radius\n150, 2, a\n150.5 | 2.5 | b | 5\n151, 95, bad\n")
    out = _run(capsys, data, "watchlist", "add", "--user", "alice", "--name", "agn", str(cones),
               "--radius", "3")
    assert out.out.strip() == "1"
    assert f"{cones} line 4: dec 95.0 is not between -90 and 90 degrees" in out.err
    assert "2 cones kept, 1 lines refused" in out.err
    listing = _run(capsys, data, "watchlist", "list").out.splitlines()
    assert listing[2].split() == ["1", "agn", "alice", "False", "True", "3", "2", "0"]
    shown = _run(capsys, data, "watchlist", "show", "1").out
    assert "n_cones      2" in shown and "radius       3.0" in shown

    # a watchmap from the real BAYESTAR map's 90% region: its area is the data README's number
    sky = LVK / "skymaps" / "MS181101ab_bayestar.multiorder.fits"
    out = _run(capsys, data, "watchmap", "add", "--user", "alice", "--name", "ms90",
               "--skymap", str(sky), "--level", "0.9")
    assert out.out.strip() == "1"
    assert "area 30.98 deg2" in out.err  # 30.975 deg2 by the LVK user guide's rule
    assert "area         30.98 deg2" in _run(capsys, data, "watchmap", "show", "1").out
    out = _run(capsys, data, "watchmap", "add", "--user", "alice", "--name", "round",
               "--cones", str(cones))
    assert out.out.strip() == "2"
    area = float(out.err.split("area ")[1].split(" deg2")[0])
    # two cones of 60 arcsec (the default here): 2 pi r^2; a MOC of order 13 covers a little more
    assert area == pytest.approx(2 * 3.14159265 * (60 / 3600) ** 2, rel=0.15)
    out = _run(capsys, data, "watchmap", "add", "--user", "alice", "--name", "box",
               "--polygon", "29,9 31,9 31,11 29,11")
    assert out.out.strip() == "3"
    with pytest.raises(SystemExit):
        main(["--data-dir", str(data), "watchmap", "add", "--user", "alice", "--name", "x",
              "--polygon", "1,2 3"])
    assert "a polygon is" in capsys.readouterr().err
    names = [
        line.split()[1] for line in _run(capsys, data, "watchmap", "list").out.splitlines()[2:]
    ]
    assert names == ["ms90", "round", "box"]
    assert "deleted watchmap 3 (box)" in _run(capsys, data, "watchmap", "delete", "3").out
    assert "deleted watchlist 1 (agn)" in _run(capsys, data, "watchlist", "delete", "1").out
    with pytest.raises(SystemExit):
        main(["--data-dir", str(data), "watchlist", "show", "1"])
    assert "no watchlist 1" in capsys.readouterr().err


def test_gw_commands_register_list_and_show(tmp_path, capsys):
    data = tmp_path / "data"
    notices = [LVK / "notices" / n for n in ("MS230425k-preliminary.json",
                                            "MS230425k-initial.json", "S230518h-initial.json")]
    out = _run(capsys, data, "gw", "add", *map(str, notices)).out.splitlines()
    assert out == ["MS230425k PRELIMINARY: new map, map version 1, 0 hits, 0 changed",
                   "MS230425k INITIAL: same map, map version 1, 0 hits, 0 changed",
                   "S230518h INITIAL: new map, map version 1, 0 hits, 0 changed"]
    *rows, units = _run(capsys, data, "gw", "list").out.splitlines()[2:]
    assert [r.split()[0] for r in rows] == ["S230518h", "MS230425k"]
    assert units == ("units: t_event MJD, TAI scale as midpointMjdTai; far Hz; area90 deg2; "
                     "dist_mean Mpc")
    shown = _run(capsys, data, "gw", "show", "S230518h").out
    assert "p_NSBH         0.8642645059209272" in shown and "gw_group       CBC" in shown
