"""``skysift``: global options, error handling, and the registry of command groups.

Global options go before the command and apply to every command. Errors print one line
``skysift: <message>`` and exit 1; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from pathlib import Path

import click

from skysift import __version__
from skysift.cli.context import Context, configure_logging, pass_ctx
from skysift.errors import SkysiftError

__all__ = ["Context", "cli", "main", "pass_ctx"]

# command name -> "module:attribute"; modules import heavy things only inside commands
COMMANDS: dict[str, str] = {
    "kafka": "skysift.cli.kafka_cmd:kafka",
    "user": "skysift.cli.user_cmd:user",
    "filter": "skysift.cli.filter_cmd:filter_group",
    "annotator": "skysift.cli.annotator_cmd:annotator",
    "annotations": "skysift.cli.annotator_cmd:annotations_group",
    "ingest": "skysift.cli.ingest_cmd:ingest",
    "archive": "skysift.cli.archive_cmd:archive",
    "alerts": "skysift.cli.alerts_cmd:alerts",
    "consume": "skysift.cli.consume_cmd:consume",
    "demo": "skysift.cli.demo_cmd:demo",
    "db": "skysift.cli.db_cmd:db",
    "config": "skysift.cli.config_cmd:config",
    "gcn": "skysift.cli.gcn_cmd:gcn",
    "serve": "skysift.cli.web_cmd:serve",
    "web": "skysift.cli.web_cmd:web",
    "notify": "skysift.cli.notify_cmd:notify",
    "watchlist": "skysift.cli.context_cmd:watchlist",
    "watchmap": "skysift.cli.context_cmd:watchmap",
    "gw": "skysift.cli.context_cmd:gw",
    "tns": "skysift.cli.context_cmd:tns",
}




class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="skysift")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Data directory (default ./skysift-data): SQLite store, embedded broker, dead "
                   "letters.")
@click.option("--config", "config_file", type=click.Path(), default=None,
              help="Config file (default: skysift.toml in the data directory).")
@click.option("--kafka", default=None, metavar="HOST:PORT",
              help="Kafka bootstrap server (default: the embedded broker).")
@click.option("--database", default=None, metavar="URL",
              help="Store URL, e.g. postgresql://host/db (default: SQLite in the data directory).")
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config_file: str | None, kafka: str | None,
        database: str | None, debug: bool) -> None:
    """skysift: Rubin alerts in, SQL filters, Kafka streams out; and a GCN listener."""
    overrides: dict[str, Path | str | bool | None] = {"data_dir": data_dir, "kafka": kafka,
                                                      "database": database}
    if debug:
        overrides["debug"] = True
    ctx.obj = Context(overrides, config_file, debug)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    # INFO until the settings are read; then their log_level (Context.settings), so that a
    # command that never reads them (gcn) still logs
    configure_logging("INFO", debug)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    from skysift.streams import kafka as kafka_clients

    kafka_clients.AUTOSTART_EMBEDDED = True  # a person at a prompt: start the broker, say so
    try:
        rc = cli.main(args=args, prog_name="skysift", standalone_mode=False)
        if isinstance(rc, int) and rc != 0:
            sys.exit(rc)
    except click.exceptions.Abort:
        click.echo("skysift: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SkysiftError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"skysift: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("skysift: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # an unexpected failure still gets one line unless --debug
        if debug:
            traceback.print_exc()
        click.echo(f"skysift: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    finally:
        kafka_clients.AUTOSTART_EMBEDDED = False


if __name__ == "__main__":  # pragma: no cover
    main()
