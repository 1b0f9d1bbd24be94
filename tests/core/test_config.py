"""Settings: precedence, validation, documentation."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

import pytest

from skysift.config import Settings, load_settings, replace
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


# ---------------------------------------------------------------------- the registry
SECRETS = {
    "database": "postgresql://skysift:db-pw-0x1@db.example.org/skysift",
    "schema_registry": "https://reg:reg-pw-0x2@registry.example.org",
    "smtp_password": "smtp-pw-0x3",
    "s3_secret_access_key": "s3-secret-0x4",
    "kafka_config": {"sasl.password": "sasl-pw-0x5", "security.protocol": "SASL_SSL",
                     "ssl.key.pem": "-----BEGIN PRIVATE KEY----- pem-0x6"},
}
SECRET_VALUES = ("db-pw-0x1", "reg-pw-0x2", "smtp-pw-0x3", "s3-secret-0x4", "sasl-pw-0x5",
                 "pem-0x6")


def test_registry_is_the_settings_class():
    from skysift.config import SETTINGS

    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(Settings)]
    defaults = Settings()
    for spec in SETTINGS:
        assert spec.help.strip(), spec.name
        assert spec.default == getattr(defaults, spec.name)
        assert spec.env == "SKYSIFT_" + spec.name.upper()
        if any(word in spec.name for word in ("password", "secret", "token")):
            assert spec.secret == "value", f"{spec.name} looks secret but is not marked"
    assert Settings().kafka_config is not Settings().kafka_config  # a fresh dict each


def test_repr_str_and_redacted_never_show_a_secret():
    s = load_settings(env={}, overrides=SECRETS)
    assert s.smtp_password == "smtp-pw-0x3" and s.kafka_config["sasl.password"] == "sasl-pw-0x5"
    for text in (repr(s), str(s), f"{s}", json.dumps(s.redacted(), default=str)):
        leaked = [v for v in SECRET_VALUES if v in text]
        assert leaked == [], f"secrets shown: {leaked}"
    shown = s.redacted()
    assert shown["database"] == "postgresql://skysift:***@db.example.org/skysift"
    assert shown["schema_registry"] == "https://reg:***@registry.example.org"
    assert shown["smtp_password"] == "***" and shown["s3_secret_access_key"] == "***"
    assert shown["kafka_config"] == {"sasl.password": "***", "security.protocol": "SASL_SSL",
                                     "ssl.key.pem": "***"}
    assert "smtp_password=None" in repr(Settings())  # unset secrets are shown as unset


def test_mask_url_password():
    from skysift.redaction import mask_url_password

    assert mask_url_password("postgresql://u:p@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url_password("postgresql://u@h/db") == "postgresql://u@h/db"
    assert mask_url_password("postgresql://h/db?user=u&password=p&sslmode=require") == \
        "postgresql://h/db?user=u&password=***&sslmode=require"
    assert mask_url_password("s3://bucket/a@b/c") == "s3://bucket/a@b/c"  # '@' in the path
    assert mask_url_password("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_config_command_never_shows_a_secret(tmp_path):
    from click.testing import CliRunner

    from skysift.cli.main import cli

    env = {"SKYSIFT_DATABASE": SECRETS["database"], "SKYSIFT_SMTP_PASSWORD": "smtp-pw-0x3",
           "SKYSIFT_S3_SECRET_ACCESS_KEY": "s3-secret-0x4",
           "SKYSIFT_KAFKA_CONFIG": json.dumps(SECRETS["kafka_config"]),
           "SKYSIFT_SCHEMA_REGISTRY": SECRETS["schema_registry"]}
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "config"], env=env)
    assert result.exit_code == 0, result.output
    leaked = [v for v in SECRET_VALUES if v in result.output]
    assert leaked == [], f"skysift config shows {leaked}"
    shown = json.loads(result.output)
    assert shown["smtp_password"] == "***" and "***" in shown["database_url"]


# ---------------------------------------------------------------------- SKYSIFT_* variables
def test_variables_that_are_not_settings_never_fail(tmp_path):
    from click.testing import CliRunner

    from skysift.cli.main import cli
    from skysift.config import ENVIRONMENT

    assert {"SKYSIFT_CONFIG", "SKYSIFT_GCN_SETTINGS", "SKYSIFT_TEST_PG"} <= set(ENVIRONMENT)
    env = {"SKYSIFT_GCN_SETTINGS": str(tmp_path / "gcn.yaml"),
           "SKYSIFT_TEST_PG": "postgresql://postgres@127.0.0.1:5432/postgres",
           "SKYSIFT_BATCH_SIZE": "7"}
    assert load_settings(env=env, overrides={"data_dir": tmp_path}).batch_size == 7
    # the documented SKYSIFT_GCN_SETTINGS no longer breaks every non-GCN command
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "config"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["batch_size"] == 7
    with pytest.raises(ConfigError, match=r"SKYSIFT_GCN_SETTING\b"):  # a typo still fails
        load_settings(env={"SKYSIFT_GCN_SETTING": "x"})


def test_every_skysift_variable_in_the_project_is_a_setting_or_declared():
    from skysift.config import ENVIRONMENT, SETTINGS

    root = Path(__file__).resolve().parents[2]
    known = {s.env for s in SETTINGS} | set(ENVIRONMENT)
    not_variables = {"SKYSIFT_FLUX2MAG", "SKYSIFT_SQRT",  # SQL function names of the compiler
                     "SKYSIFT_NOPE", "SKYSIFT_GCN_SETTING"}  # typos the tests make on purpose
    found: dict[str, str] = {}
    for base in ("src", "docs", "tests", "benchmarks", "README.md", "Makefile"):
        paths = [root / base] if (root / base).is_file() else (root / base).rglob("*")
        for path in paths:
            if path.suffix not in (".py", ".md", ".toml", ".yaml", "") or not path.is_file():
                continue
            for name in re.findall(r"SKYSIFT_[A-Z0-9_]*[A-Z0-9]", path.read_text(errors="ignore")):
                found.setdefault(name, str(path.relative_to(root)))
    unknown = {n: where for n, where in found.items() if n not in known | not_variables}
    assert unknown == {}, f"SKYSIFT_* variables neither settings nor in ENVIRONMENT: {unknown}"


# ---------------------------------------------------------------------- docs/configuration.md
def test_configuration_md_is_the_generated_table():
    from skysift.configdoc import BEGIN_MARKER, END_MARKER, markdown_table

    text = DOCS.read_text()
    assert BEGIN_MARKER in text and END_MARKER in text, "configuration.md lost its markers"
    block = text.split(BEGIN_MARKER, 1)[1].split(END_MARKER, 1)[0]
    assert block == "\n" + markdown_table(), \
        "run: python -m skysift.configdoc --write docs/configuration.md"
    assert "`SKYSIFT_GCN_SETTINGS`" in block and "Secret: never printed" in block


def test_configdoc_write_touches_nothing_outside_the_markers(tmp_path):
    from skysift.configdoc import BEGIN_MARKER, END_MARKER, main, replace_block

    path = tmp_path / "configuration.md"
    path.write_text(f"# Configuration\nintro\n{BEGIN_MARKER}\nSTALE\n{END_MARKER}\nafter\n")
    assert main(["--write", str(path)]) == 0
    text = path.read_text()
    assert text.startswith(f"# Configuration\nintro\n{BEGIN_MARKER}\n")
    assert text.endswith(f"{END_MARKER}\nafter\n")
    assert "STALE" not in text and "| `batch_size` | `1000` |" in text
    assert replace_block("", "T\n") == f"{BEGIN_MARKER}\nT\n{END_MARKER}\n"


# ---------------------------------------------------------------------- log_level
@pytest.fixture
def root_level():
    root = logging.getLogger()
    before = root.level, {n: logging.getLogger(n).level for n in ("sqlalchemy", "alembic")}
    yield root
    root.setLevel(before[0])
    for name, level in before[1].items():
        logging.getLogger(name).setLevel(level)


def test_log_level_configures_the_log(tmp_path, root_level):
    from click.testing import CliRunner

    from skysift.cli.main import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["--data-dir", str(tmp_path), "config"],
                           env={"SKYSIFT_LOG_LEVEL": "warning"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["log_level"] == "WARNING"
    assert root_level.level == logging.WARNING
    assert logging.getLogger("sqlalchemy").level == logging.WARNING

    (tmp_path / "skysift.toml").write_text('log_level = "ERROR"\n')
    assert runner.invoke(cli, ["--data-dir", str(tmp_path), "config"], env={}).exit_code == 0
    assert root_level.level == logging.ERROR

    # --debug wins over log_level, and lets the chatty libraries speak
    assert runner.invoke(cli, ["--data-dir", str(tmp_path), "--debug", "config"],
                         env={}).exit_code == 0
    assert root_level.level == logging.DEBUG
    assert logging.getLogger("sqlalchemy").level == logging.NOTSET


def test_log_level_is_checked_and_reaches_uvicorn(tmp_path):
    from skysift.cli.web_cmd import uvicorn_config

    with pytest.raises(ConfigError, match=r"log_level.*DEBUG, INFO, WARNING, ERROR or CRITICAL"):
        load_settings(env={"SKYSIFT_LOG_LEVEL": "loud"})
    s = load_settings(env={"SKYSIFT_LOG_LEVEL": "Error"}, overrides={"data_dir": tmp_path})
    assert uvicorn_config(None, s).log_level == "error"
    assert uvicorn_config(None, replace(s, debug=True)).log_level == "debug"


# ---------------------------------------------------------------------- the GCN settings file
def test_gcn_settings_share_the_variable_registry_and_the_secret_marking(tmp_path):
    from skysift.config import ENVIRONMENT
    from skysift.gcn.settings import (
        DEFAULT_SETTINGS_PATH,
        SETTINGS_ENV,
        load_gcn_settings,
        settings_path,
    )

    assert SETTINGS_ENV in ENVIRONMENT
    env = {SETTINGS_ENV: str(tmp_path / "from-env.yaml")}
    assert settings_path(tmp_path / "given.yaml", env) == tmp_path / "given.yaml"
    assert settings_path(None, env) == tmp_path / "from-env.yaml"
    assert settings_path(None, {}) == DEFAULT_SETTINGS_PATH.expanduser()

    path = tmp_path / "gcn.yaml"
    path.write_text("gcn-kafka:\n  client_id: me\n  client_secret: gcn-secret-0x7\n"
                    "  kafka:\n    sasl.password: gcn-sasl-0x8\n")
    s = load_gcn_settings(path)
    assert s.client_secret == "gcn-secret-0x7" and s.kafka["sasl.password"] == "gcn-sasl-0x8"
    for text in (repr(s), str(s)):
        assert "gcn-secret-0x7" not in text and "gcn-sasl-0x8" not in text
        assert "client_id='me'" in text
