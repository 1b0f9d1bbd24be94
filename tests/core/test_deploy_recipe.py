"""The deployment recipe (deploy/compose.yaml, its Dockerfile and GCN settings) holds together:
every service's environment is settings skysift accepts, every command is one the CLI parses,
the GCN settings file loads and bridges to the same store. (Docker itself is not run here.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from skysift.cli.main import cli
from skysift.config import load_settings
from skysift.gcn.settings import load_gcn_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _skysift_services() -> dict[str, dict]:
    return {name: svc for name, svc in _compose()["services"].items()
            if svc.get("image") == "skysift:latest"}


def _interpolated(value: str) -> str:
    """Compose's ${VAR:?message} and ${VAR} with a stand-in value."""
    return re.sub(r"\$\{[A-Z_]+(:\?[^}]*)?\}", "secret-pw", value)


def _commands() -> list[tuple[str, list[str]]]:
    out = []
    for name, svc in _skysift_services().items():
        if "entrypoint" in svc:  # a shell loop around skysift commands
            script = svc["entrypoint"][-1]
            for part in script.split(";"):
                words = shlex.split(part)
                if "skysift" in words:
                    out.append((name, words[words.index("skysift") + 1:]))
        else:
            out.append((name, list(svc["command"])))
    return out


def test_every_part_of_the_deployment_is_there():
    services = _compose()["services"]
    assert {"postgres", "kafka", "migrate", "ingest", "web", "gcn", "annotations",
            "notify"} <= services.keys()
    assert set(_skysift_services()) == {"migrate", "ingest", "annotations", "web", "gcn",
                                        "notify"}


@pytest.mark.parametrize("service", sorted(_skysift_services()))
def test_service_environment_is_settings_skysift_accepts(service, tmp_path):
    env = {k: _interpolated(str(v))
           for k, v in _skysift_services()[service]["environment"].items()}
    assert all(k.startswith("SKYSIFT_") for k in env)
    env["SKYSIFT_DATA_DIR"] = str(tmp_path)  # /data does not exist here
    settings = load_settings(env=env)
    assert settings.database_url == ("postgresql://skysift:secret-pw@postgres:5432/skysift")
    assert settings.kafka == "kafka:9092"
    assert settings.topic_partitions == 2
    assert "secret-pw" not in repr(settings)


@pytest.mark.parametrize(("service", "args"), _commands(), ids=lambda v: str(v))
def test_service_command_is_one_the_cli_parses(service, args):
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, f"{service}: skysift {' '.join(args)}: {result.output}"
    assert "Usage: " in result.output


def test_commands_cover_ingest_web_gcn_and_the_migrations():
    firsts = {tuple(args[:2]) for _, args in _commands()}
    assert {("db", "upgrade"), ("ingest", "--from-kafka"), ("web", "--host"),
            ("gcn", "listen"), ("annotations", "ingest"), ("notify", "run")} <= firsts


def test_gcn_settings_load_and_bridge_to_the_store():
    gcn = load_gcn_settings(DEPLOY / "gcn.yaml")
    assert gcn.broker_data_dir == Path("/data")
    assert gcn.download_dir == Path("/lvk")
    gcn_service = _skysift_services()["gcn"]
    assert "./gcn.yaml:/config/gcn.yaml" in gcn_service["volumes"]
    assert "/config/gcn.yaml" in gcn_service["command"]


def test_dockerfile_copies_what_the_package_needs():
    text = (DEPLOY / "Dockerfile").read_text()
    root = DEPLOY.parent
    for line in text.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (root / src).exists(), src
    assert 'ENTRYPOINT ["skysift"]' in text
    assert 'skysift = "skysift.cli.main:main"' in (root / "pyproject.toml").read_text()
