"""Settings: precedence, validation, documentation."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from skysift.config import Settings, load_settings
from skysift.errors import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented():
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.M))
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert fields - documented == set(), f"undocumented settings: {fields - documented}"
    assert documented - fields == set(), f"documented but not settings: {documented - fields}"


def test_precedence_defaults_file_env_flags(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "skysift.toml").write_text('batch_size = 10\nfilter_row_cap = 20\ninput_topic = "f"\n')
    env = {"SKYSIFT_FILTER_ROW_CAP": "30", "SKYSIFT_INPUT_TOPIC": "e"}
    s = load_settings(env=env, overrides={"data_dir": data, "input_topic": "flag"})
    assert s.batch_size == 10  # file beats default
    assert s.filter_row_cap == 30  # env beats file
    assert s.input_topic == "flag"  # flag beats env
    assert s.filter_timeout_s == Settings().filter_timeout_s  # default


def test_config_flag_names_another_file(tmp_path):
    cfg = tmp_path / "other.toml"
    cfg.write_text("seed_records = 3\n[kafka_config]\n\"sasl.password\" = \"hunter2\"\n")
    s = load_settings(config_file=cfg, env={}, overrides={"data_dir": tmp_path})
    assert s.seed_records == 3
    assert s.kafka_config["sasl.password"] == "hunter2"
    assert "hunter2" not in repr(s.redacted())


def test_unknown_keys_fail_with_their_name(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("batch_sise = 3\n")
    with pytest.raises(ConfigError, match=r"batch_sise"):
        load_settings(config_file=cfg, env={})
    with pytest.raises(ConfigError, match=r"SKYSIFT_NOPE"):
        load_settings(env={"SKYSIFT_NOPE": "1"})


def test_bad_values_name_the_setting_and_source(tmp_path):
    with pytest.raises(ConfigError, match=r"batch_size.*environment SKYSIFT_BATCH_SIZE"):
        load_settings(env={"SKYSIFT_BATCH_SIZE": "many"})
    with pytest.raises(ConfigError, match=r"kafka"):
        load_settings(env={}, overrides={"kafka": "no-port"})
    with pytest.raises(ConfigError, match=r"batch_size"):
        load_settings(env={}, overrides={"batch_size": 0})
    cfg = tmp_path / "broken.toml"
    cfg.write_text("batch_size = \n")
    with pytest.raises(ConfigError, match=r"not valid TOML") as info:
        load_settings(config_file=cfg, env={})
    assert info.value.path == str(cfg)


def test_database_url_defaults_to_sqlite_in_data_dir(tmp_path):
    s = load_settings(env={}, overrides={"data_dir": tmp_path})
    assert s.database_url == f"sqlite:///{(tmp_path / 'skysift.db').resolve()}"
    s = load_settings(env={"SKYSIFT_DATABASE": "postgresql://u:pw-0x5eed@h/db"})
    assert s.database_url == "postgresql://u:pw-0x5eed@h/db"
    assert "pw-0x5eed" not in str(s.redacted())


def test_kafka_config_from_env_json():
    s = load_settings(env={"SKYSIFT_KAFKA_CONFIG": '{"security.protocol": "SASL_SSL"}'})
    assert s.kafka_config == {"security.protocol": "SASL_SSL"}
    with pytest.raises(ConfigError, match=r"kafka_config"):
        load_settings(env={"SKYSIFT_KAFKA_CONFIG": "[1, 2]"})
