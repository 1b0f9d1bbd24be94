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


def test_commands_start_the_embedded_broker_when_it_is_stopped_and_say_so(tmp_path, capsys,
                                                                          caplog):
    """After `make demo` was stopped with Ctrl-C (which stops the broker it started), the tour's
    next command starts the data directory's broker itself instead of failing."""
    from skysift.streams.embedded import find_running

    data = tmp_path / "d"
    _run(capsys, ["--data-dir", str(data), "user", "add", "zed"])
    assert find_running(data) is None
    try:
        out = _run(capsys, ["--data-dir", str(data), "filter", "add", "--user", "zed", "--name",
                            "all", "--sql", "SELECT objects.diaObjectId FROM objects"])
        assert out.strip() == "lasair_1all"
        running = find_running(data)
        assert running is not None
        assert any(f"started the embedded Kafka broker at {running.bootstrap}" in r.getMessage()
                   for r in caplog.records)
    finally:
        _run(capsys, ["--data-dir", str(data), "kafka", "down"])
    assert find_running(data) is None
    from skysift.streams import kafka

    assert kafka.AUTOSTART_EMBEDDED is False  # only while the command line runs
