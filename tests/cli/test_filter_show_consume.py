"""`skysift filter show` prints a consume command that works when pasted as it is."""

from __future__ import annotations

import shlex

from skysift.cli.main import main


def _run(capsys, argv):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    return capsys.readouterr().out


def test_the_printed_consume_command_carries_the_global_options_and_reads_the_topic(
        tmp_path, kafka_bootstrap, capsys, unique_name):
    base = ["--data-dir", str(tmp_path / "d"), "--kafka", kafka_bootstrap]
    _run(capsys, [*base, "user", "add", "zed"])
    name = unique_name("show").replace("-", "_")
    _run(capsys, [*base, "filter", "add", "--user", "zed", "--name", name, "--sql",
                  "SELECT objects.diaObjectId FROM objects"])
    line = next(x for x in _run(capsys, [*base, "filter", "show", name]).splitlines()
                if x.startswith("consume:"))
    argv = shlex.split(line.split(":", 1)[1])
    assert argv[0] == ".venv/bin/skysift" and argv[1:5] == base
    assert argv[5:8] == ["consume", "--topic", f"lasair_1{name}"]
    out = _run(capsys, [*argv[1:-2], "--timeout", "2"])  # the same command, a shorter wait
    assert out.strip() == ""  # an empty topic, read without error (no alerts ingested)


def test_alerts_publish_sample_publishes_the_alerts_that_ship_with_skysift(
        tmp_path, kafka_bootstrap, capsys, unique_name, topic_reader):
    from skysift.alerts.files import iter_alert_files
    from skysift.cli.demo_cmd import sample_alerts_dir

    topic = unique_name("sample")
    out = _run(capsys, ["--data-dir", str(tmp_path / "d"), "--kafka", kafka_bootstrap, "alerts",
                        "publish", "--sample", "--topic", topic, "--no-progress"])
    n = len(list(iter_alert_files([str(sample_alerts_dir())])))
    assert out.strip() == f"published {n} alerts to {topic}"
    assert len(topic_reader(topic, expect=n)) == n
