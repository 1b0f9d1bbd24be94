"""``skysift gcn``: the GCN gravitational-wave listener (init, listen, status, quit, restart, echo,
process, tag). Settings: ``--settings PATH``, else ``$SKYSIFT_GCN_SETTINGS``, else
``~/.config/skysift/gcn.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

__all__ = ["gcn"]

_settings_opt = click.option("--settings", "settings_path", type=click.Path(path_type=Path),
                             default=None,
                             help="Settings file (default ~/.config/skysift/gcn.yaml).")
_plugins_opt = click.option("--plugins/--no-plugins", default=None,
                            help="Run the plugins (default: the settings' plugins.enabled).")


def _path(ctx: click.Context, given: Path | None) -> Path:
    from skysift.gcn.settings import settings_path

    return settings_path(given or ctx.find_root().meta.get("gcn_settings"))


def _load(ctx: click.Context, given: Path | None) -> Any:
    """The GCN settings; the global --data-dir / --database, when given, name the broker's
    store that every written alert is registered in (as the settings' ``broker`` section)."""
    import dataclasses

    from skysift.gcn.settings import load_gcn_settings

    settings = load_gcn_settings(_path(ctx, given))
    root = ctx.find_root().obj
    overrides = getattr(root, "overrides", {}) or {}
    if overrides.get("data_dir") or overrides.get("database"):
        settings = dataclasses.replace(
            settings, broker_data_dir=(Path(overrides["data_dir"]) if overrides.get("data_dir")
                                       else settings.broker_data_dir),
            broker_database=overrides.get("database") or settings.broker_database)
    return settings


@click.group()
@_settings_opt
@click.pass_context
def gcn(ctx: click.Context, settings_path: Path | None) -> None:
    """Listen to LIGO-Virgo-KAGRA alerts on GCN Kafka and write every product to disk."""
    if settings_path is not None:
        ctx.find_root().meta["gcn_settings"] = settings_path


@gcn.command()
@_settings_opt
@click.option("--force", is_flag=True, help="Overwrite an existing settings file.")
@click.pass_context
def init(ctx: click.Context, settings_path: Path | None, force: bool) -> None:
    """Write a commented settings file and a plugins folder with a template plugin (disabled)."""
    from skysift.gcn.settings import init_settings

    path, plugins = init_settings(_path(ctx, settings_path), force=force)
    click.echo(f"settings: {path}")
    click.echo(f"plugins:  {plugins} (gp_template.py.example: copy it to gp_<name>.py and "
               "edit it to run it for every kept alert)")
    click.echo("add your GCN client_id and client_secret (https://gcn.nasa.gov/quickstart), "
               "then run `skysift gcn listen`")


@gcn.command()
@_settings_opt
@_plugins_opt
@click.option("--foreground", is_flag=True, help="Stay attached instead of running as a daemon.")
@click.pass_context
def listen(ctx: click.Context, settings_path: Path | None, plugins: bool | None,
           foreground: bool) -> None:
    """Listen to igwn.gwalert (a background daemon unless --foreground)."""
    from skysift.gcn import daemon
    from skysift.gcn.settings import ensure_group_id

    settings = ensure_group_id(_load(ctx, settings_path))
    if not foreground:
        pid = daemon.start(settings, plugins=plugins)
        paths = daemon.DaemonPaths.of(settings)
        click.echo(f"listening in the background: pid {pid}, log {paths.log}")
        return
    import signal
    import threading

    from skysift.gcn.listen import listen as run
    from skysift.gcn.pipeline import AlertProcessor
    from skysift.gcn.state import ListenerState

    paths = daemon.DaemonPaths.of(settings)
    running = daemon.status(settings)
    if running["running"]:
        from skysift.errors import GcnError

        raise GcnError(f"the listener is already running (pid {running['pid']})",
                       path=str(paths.pid))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    paths.pid.write_text(f"{os.getpid()}\n")
    try:
        run(settings, processor=AlertProcessor(settings, plugins=plugins), stop=stop,
            state=ListenerState(paths.state, os.getpid()))
    except KeyboardInterrupt:
        stop.set()
    finally:
        paths.pid.unlink(missing_ok=True)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


@gcn.command()
@_settings_opt
@click.pass_context
def status(ctx: click.Context, settings_path: Path | None) -> None:
    """Running or not, pid, alerts processed, age of the last message, last error (exit 1 if
    down)."""
    from skysift.gcn import daemon

    st = daemon.status(_load(ctx, settings_path))
    click.echo(f"listener: {'running pid ' + str(st['pid']) if st['running'] else 'not running'}"
               f" ({st['status']})")
    click.echo(f"alerts processed: {st['alerts_processed']} (written {st['alerts_written']}, "
               f"rejected {st['alerts_rejected']})")
    click.echo(f"last message: {_age(st['last_message_age_s'])}"
               + (f" ({st['last_alert']})" if st["last_alert"] else ""))
    err = st["last_error"]
    if err:
        import time

        where = " ".join(f"{k}={v}" for k, v in err.items() if k not in ("time", "message"))
        click.echo(
            f"last error: {_age(time.time() - err['time'])}: {err['message']} {where}".rstrip()
        )
    else:
        click.echo("last error: none")
    click.echo(f"log: {st['log']}")
    if not st["running"]:
        raise click.exceptions.Exit(1)


@gcn.command()
@_settings_opt
@click.pass_context
def quit(ctx: click.Context, settings_path: Path | None) -> None:
    """Stop the background listener."""
    from skysift.gcn import daemon

    pid = daemon.stop(_load(ctx, settings_path))
    click.echo(f"stopped pid {pid}" if pid else "the listener was not running")


@gcn.command()
@_settings_opt
@_plugins_opt
@click.pass_context
def restart(ctx: click.Context, settings_path: Path | None, plugins: bool | None) -> None:
    """Stop the background listener (if running) and start it again."""
    from skysift.gcn import daemon
    from skysift.gcn.settings import ensure_group_id

    pid = daemon.restart(ensure_group_id(_load(ctx, settings_path)), plugins=plugins)
    click.echo(f"listening in the background: pid {pid}")


@gcn.command()
@click.argument("days", type=float)
@_settings_opt
@_plugins_opt
@click.pass_context
def echo(ctx: click.Context, days: float, settings_path: Path | None, plugins: bool | None) -> None:
    """Re-listen to the last DAYS days (fractions allowed) of every partition; commits nothing."""
    from skysift.gcn.echo import echo as run
    from skysift.gcn.pipeline import AlertProcessor

    settings = _load(ctx, settings_path)
    counts = run(settings, days, processor=AlertProcessor(settings, plugins=plugins))
    click.echo(
        "echo: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no messages")
    )


@gcn.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_settings_opt
@_plugins_opt
@click.pass_context
def process(ctx: click.Context, files: tuple[Path, ...], settings_path: Path | None,
            plugins: bool | None) -> None:
    """Process notice FILES (JSON or Avro, .gz/.xz allowed) as if they had just arrived."""
    from skysift.gcn.pipeline import AlertProcessor
    from skysift.gcn.process import process_files

    settings = _load(ctx, settings_path)
    counts = process_files(list(files), AlertProcessor(settings, plugins=plugins))
    click.echo("process: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if counts.get("rejected") or counts.get("unreadable"):
        raise click.exceptions.Exit(1)


@gcn.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, required=True)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None,
              help="Tag every row of this CSV (ra/dec columns, optional mjd) and write the columns "
                   "back.")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="With --csv: write here instead of over the input.")
def tag(args: tuple[str, ...], csv_path: Path | None, output: Path | None) -> None:
    """skyTag: `tag RA DEC [MJD] MAP` or `tag --csv TRANSIENTS.csv MAP`.

    Prints the credible level (%) at each position, the probability density (deg⁻²), the
    distance mean and std along that line of sight, and the days since the event given an MJD.
    """
    import numpy as np

    from skysift.gcn.tag import tag_csv, tag_positions
    from skysift.skymaps.multiorder import read_multiorder

    if csv_path is not None:
        if len(args) != 1:
            raise click.UsageError("with --csv give only the MAP")
        out = tag_csv(csv_path, read_multiorder(args[0]), output)
        click.echo(f"tagged: {out}")
        return
    if len(args) not in (3, 4):
        raise click.UsageError("give RA DEC [MJD] MAP (decimal degrees)")
    try:
        nums = [float(a) for a in args[:-1]]
    except ValueError as exc:
        raise click.UsageError(f"RA, DEC and MJD must be numbers: {exc}") from exc
    m = read_multiorder(args[-1])
    mjd = np.array([nums[2]]) if len(nums) == 3 else None
    t = tag_positions(m, np.array([nums[0]]), np.array([nums[1]]), mjd)[0]
    click.echo(f"credible_level: {t.credible_percent}%")
    click.echo(f"probdensity: {t.probdensity_deg2:.6g} deg-2")
    if t.dist_mean is not None:
        click.echo(f"distance: {t.dist_mean:.2f} ± {t.dist_std:.2f} Mpc")
    else:
        click.echo("distance: none in this map")
    if t.days_since_event is not None:
        click.echo(f"days_since_event: {t.days_since_event}")
