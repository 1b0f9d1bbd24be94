"""Plugins (real gp_*.py scripts and ip_*.py modules) and the `skysift gcn` commands."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from skysift.cli.main import main
from skysift.gcn.pipeline import AlertProcessor
from skysift.gcn.template import PLUGIN_TEMPLATE

LVK = Path(__file__).resolve().parent.parent / "data" / "lvk"


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_plugins_run_without_shell_with_timeout_and_failures_do_not_stop(
    gcn_settings, lvk_dir, tmp_path
):
    folder = tmp_path / "plugins"
    out = tmp_path / "calls.txt"
    _write(folder / "gp_record.py",
           "import sys, os\n"
           f"open({str(out)!r}, 'a').write(repr(sys.argv[1:]) + ' ' + "
           "os.environ['SKYSIFT_GCN_SETTINGS'] + '\\n')\n")
    _write(folder / "gp_broken.py", "raise SystemExit('boom')\n")
    _write(folder / "gp_slow.py", "import time; time.sleep(30)\n")
    _write(folder / "ip_inproc.py",
           "seen = []\n"
           "def plugin(log, settings, alertFiles, alertMeta):\n"
           f"    open({str(out)!r}, 'a').write('inproc ' + alertMeta['ALERT']['superevent_id']"
           " + ' '\n"
           "        + str(len(alertFiles)) + ' ' + str(settings['lvk']['ascii_map']['nside'])"
           " + '\\n')\n")
    _write(folder / "ip_raises.py", "def plugin(*a):\n    raise ValueError('nope')\n")
    _write(folder / "notes.py", "raise SystemExit('not a plugin: never run')\n")
    s = gcn_settings(plugins={"enabled": True, "folder": str(folder), "timeout": 1})
    proc = AlertProcessor(s)
    spaced = lvk_dir / "S230518h-initial.json"
    result = proc.process(spaced.read_bytes())
    assert result.status == "written"
    lines = out.read_text().splitlines()
    assert lines[0] == f"[{str(result.alert_dir)!r}] {s.path}"  # one argument, no shell splitting
    assert lines[1] == "inproc S230518h 8 64"  # 8 products: notice, fits, meta, csv, 4 MOC files
    # the listener goes on after the broken, slow and raising plugins
    assert proc.process((lvk_dir / "MS181101ab-earlywarning.json").read_bytes()).status == "written"
    assert len(out.read_text().splitlines()) == 4
    # plugins do not run again for a notice already processed
    proc.process(spaced.read_bytes())
    assert len(out.read_text().splitlines()) == 4


def test_template_plugin_runs_standalone_like_gocart(gcn_settings, lvk_dir, tmp_path):
    import subprocess
    import sys

    s = gcn_settings()
    d = AlertProcessor(s).process((lvk_dir / "S230518h-initial.json").read_bytes()).alert_dir
    script = _write(tmp_path / "gp_template.py", PLUGIN_TEMPLATE)
    done = subprocess.run([sys.executable, str(script), str(d)], check=False, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.splitlines()[0]
        == "Here are the alert files generated from INITIAL alert of event S230518h:"
    )
    assert "bilby.multiorder.fits" in done.stdout and "skymap.csv" in done.stdout


def test_cli_init_and_process_json_and_bad_files(tmp_path, lvk_dir, capsys, caplog):
    settings = tmp_path / "cfg" / "gcn.yaml"
    main(["gcn", "init", "--settings", str(settings)])
    assert (tmp_path / "cfg" / "plugins" / "gp_template.py.example").exists()
    text = settings.read_text().replace("download_dir: ~/lvk_events",
                                        f"download_dir: {tmp_path / 'ev'}")
    text = text.replace("parse_mock_events: false", "parse_mock_events: true")
    text = text.replace("  enabled: true", "  enabled: false")
    settings.write_text(text)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    with pytest.raises(SystemExit) as ex:
        main(["gcn", "--settings", str(settings), "process",
              str(lvk_dir / "MS230425k-preliminary.json"),
              str(bad), str(lvk_dir / "MS230425k-retraction.json")])
    assert ex.value.code == 1  # one rejected file
    out = capsys.readouterr()
    assert "process: rejected 1, written 2" in out.out
    assert any(
        "not valid JSON" in r.message and f"path={bad}" in r.getMessage() for r in caplog.records
    )
    ev = tmp_path / "ev" / "mockevents" / "MS230425k"
    assert (ev / "20230425T105653_preliminary" / "skymap.png").exists()
    assert (ev / "RETRACTED").exists()
    assert (tmp_path / "ev" / "rejected" / "bad.json").read_text() == "[1, 2"


def test_cli_settings_errors_are_one_line(tmp_path, capsys):
    settings = tmp_path / "gcn.yaml"
    settings.write_text("lvk:\n  filters:\n    - name: x\n      dist_lower: 3\n")
    with pytest.raises(SystemExit) as ex:
        main(["gcn", "process", "--settings", str(settings), str(tmp_path / "none.json")])
    assert ex.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("skysift: unknown filter criterion 'dist_lower'")
    assert "key=lvk.filters[0].dist_lower" in err and f"path={settings}" in err


def test_cli_tag_position_and_csv(lvk_dir, tmp_path, capsys):
    fits = str(lvk_dir / "MS181101ab_bayestar.multiorder.fits")
    main(["gcn", "tag", "194.30419921874997", "-17.856895095545468", "58424.0", fits])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "credible_level: 0.01%"  # the peak pixel (gocart.md §8)
    assert out[2].startswith("distance: 39.")
    assert out[3] == "days_since_event: 0.06752"  # 58424.0 - MJD-OBS 58423.93248
    table = tmp_path / "transients.csv"
    table.write_text("name,RA,DEC,mjd\npeak,194.30419921874997,-17.856895095545468,58425.5\n"
                     "far,10.343234,14.345532,\n")
    main(["gcn", "tag", "--csv", str(table), fits])
    rows = list(csv.DictReader(table.open()))
    assert rows[0]["name"] == "peak" and rows[0]["CREDIBLE_PERCENT"] == "0.01"
    assert rows[0]["DAYS_SINCE_EVENT"] == "1.56752"
    assert rows[1]["CREDIBLE_PERCENT"] == "100.0" and rows[1]["DAYS_SINCE_EVENT"] == ""
    first = table.read_text()
    main(["gcn", "tag", "--csv", str(table), fits])  # tagging twice gives the same file
    assert table.read_text() == first


def test_cli_status_of_a_listener_that_never_ran(tmp_path, capsys):
    settings = tmp_path / "gcn.yaml"
    main(["gcn", "init", "--settings", str(settings)])
    with pytest.raises(SystemExit) as ex:
        main(["gcn", "status", "--settings", str(settings)])
    assert ex.value.code == 1
    assert "listener: not running" in capsys.readouterr().out


def test_process_reads_tarballs_and_bare_maps_and_names_what_is_not_a_notice(
        tmp_path, gcn_settings, capsys, caplog):
    """`gcn process` on the forms people have at hand: a .tar.xz of notices, a .fits.xz map,
    and a file that is not a notice at all (said plainly, the rest goes on)."""
    from skysift.gcn.pipeline import AlertProcessor
    from skysift.gcn.process import process_files

    s = gcn_settings(lvk={"aitoff": {"convert": False}, "ascii_map": {"convert": False},
                          "moc": {"convert": False}})
    text = tmp_path / "notes.txt"
    text.write_text("hello: not a notice\n")
    counts = process_files([LVK / "MS230425k-preliminary-initial.tar.xz",
                            LVK / "MS220722v_bayestar.multiorder.fits.xz", text],
                           AlertProcessor(s, plugins=False), progress=False)
    assert counts == {"written": 3, "unreadable": 1}
    events = s.download_dir / "mockevents"
    assert sorted(p.name for p in (events / "MS230425k").iterdir()
                  if p.is_dir() and not p.is_symlink()) == [
        "20230425T105653_preliminary", "20230425T121940_initial"]
    (bare,) = [p for p in (events / "MS220722v").iterdir() if p.is_dir() and not p.is_symlink()]
    meta = yaml.safe_load((bare / "meta.yaml").read_text())
    assert meta["ALERT"]["superevent_id"] == "MS220722v"
    assert meta["EXTRA"]["area90"] == pytest.approx(1262, rel=0.01)  # the data README: ~1262 deg2
    # the bare map's notice has no FAR or significance to give: no schema warning for them,
    # and no copy of the map in rejected/ as if it were a bad notice
    assert meta["ALERT"]["event"]["far"] is None and meta["EXTRA"]["problems"] == []
    assert not any("MS220722v" in r.getMessage() and "schema" in r.getMessage()
                   for r in caplog.records)
    rejected = s.download_dir / "rejected"
    assert not rejected.exists() or not any("MS220722v" in p.name for p in rejected.rglob("*"))
    assert any(
        f"{text} is not a notice: it is text starting 'hello: not a notice'" in r.getMessage()
        for r in caplog.records
    )
