"""Every command answers --help, and the global options are listed."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from skysift import __version__
from skysift.cli.main import cli


def _all_commands(group: click.Group, ctx: click.Context, prefix=()):
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, f"command {' '.join((*prefix, name))} does not load"
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, ctx, (*prefix, name))


COMMANDS = list(_all_commands(cli, click.Context(cli)))


def test_the_documented_commands_exist():
    names = {" ".join(c) for c in COMMANDS}
    for expected in ["kafka up", "kafka status", "kafka down", "user add", "filter add",
                     "filter import", "filter list", "filter show", "filter edit",
                     "filter delete", "filter run", "ingest", "alerts publish", "consume", "demo"]:
        assert expected in names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_help_on_every_command(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output and path[-1] in result.output


def test_version_and_global_options():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    out = CliRunner().invoke(cli, ["--help"]).output
    for opt in ["--data-dir", "--config", "--kafka", "--database", "--debug"]:
        assert opt in out
