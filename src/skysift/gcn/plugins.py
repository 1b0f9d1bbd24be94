"""Run the user's plugins for a kept alert.

- ``gp_*.py``: gocart-compatible scripts, run as ``<python> gp_x.py <alert dir>`` without a shell,
  one after the other, each with a timeout; ``SKYSIFT_GCN_SETTINGS`` names the settings file.
- ``ip_*.py``: imported once and their ``plugin(log, settings, alertFiles, alertMeta)`` called in a
  worker thread; after the timeout the listener stops waiting (a thread cannot be killed, so a stuck
  in-process plugin keeps its thread; use a gp_ script for anything that may hang).

A plugin that fails, times out or cannot be imported is logged and the listener goes on.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from skysift.gcn.settings import SETTINGS_ENV

__all__ = ["PluginResult", "discover", "run_plugins"]

_modules: dict[Path, tuple[float, ModuleType]] = {}


@dataclass(frozen=True)
class PluginResult:
    """How one plugin ended: ``ok``, ``failed`` or ``timeout``, with its output or error."""

    name: str
    status: str
    detail: str = ""


def discover(folder: Path) -> tuple[list[Path], list[Path]]:
    """(gp_*.py scripts, ip_*.py modules) in ``folder``, sorted; symlinks are followed."""
    folder = Path(folder)
    if not folder.is_dir():
        return [], []
    files = sorted(p for p in folder.iterdir() if p.suffix == ".py" and p.is_file())
    return ([p for p in files if p.name.startswith("gp_")],
            [p for p in files if p.name.startswith("ip_")])


def _run_script(script: Path, alert_dir: Path, timeout: float, settings_path: Path,
                log: logging.Logger) -> PluginResult:
    env = dict(os.environ, **{SETTINGS_ENV: str(settings_path)})
    try:
        proc = subprocess.run([sys.executable, str(script), str(alert_dir)], check=False,
                              capture_output=True,
                              text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
                              cwd=str(alert_dir))
    except subprocess.TimeoutExpired as exc:
        log.error("plugin %s timed out after %.0f s on %s", script.name, timeout, alert_dir)
        return PluginResult(script.name, "timeout", str(exc.stdout or ""))
    except OSError as exc:
        log.error("plugin %s could not start: %s", script.name, exc)
        return PluginResult(script.name, "failed", str(exc))
    for line in proc.stdout.splitlines():
        log.info("plugin %s: %s", script.name, line)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        log.error("plugin %s exited with %d on %s: %s", script.name, proc.returncode,
                  alert_dir, tail[0])
        return PluginResult(script.name, "failed", proc.stderr)
    return PluginResult(script.name, "ok", proc.stdout)


def _load(path: Path) -> ModuleType:
    mtime = path.stat().st_mtime
    cached = _modules.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    spec = importlib.util.spec_from_file_location(f"skysift_plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "plugin", None)):
        raise ImportError(f"{path.name} has no plugin(log, settings, alertFiles, alertMeta) "
                          "function")
    _modules[path] = (mtime, module)
    return module


def _run_inprocess(path: Path, args: tuple[Any, ...], timeout: float,
                   log: logging.Logger) -> PluginResult:
    try:
        module = _load(path)
    except Exception as exc:  # any error in user code
        log.error("plugin %s cannot be imported: %s", path.name, exc)
        return PluginResult(path.name, "failed", str(exc))
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            module.plugin(*args)
            outcome["ok"] = True
        except Exception as exc:  # any error in user code
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    worker = threading.Thread(target=target, name=f"plugin-{path.stem}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        log.error("plugin %s still running after %.0f s; not waiting for it", path.name, timeout)
        return PluginResult(path.name, "timeout")
    if "error" in outcome:
        log.error("plugin %s failed: %s", path.name, outcome["error"])
        return PluginResult(path.name, "failed", outcome["error"])
    return PluginResult(path.name, "ok")


def run_plugins(folder: Path, alert_dir: Path, *, settings_path: Path, settings_raw: dict[str, Any],
                files: list[str], meta: dict[str, Any], timeout: float,
                log: logging.Logger) -> list[PluginResult]:
    """Run every plugin in ``folder`` for ``alert_dir``; never raises for a plugin's failure."""
    scripts, modules = discover(folder)
    results = [_run_script(s, alert_dir, timeout, settings_path, log) for s in scripts]
    plugin_log = logging.getLogger("skysift.gcn.plugin")
    for path in modules:
        results.append(_run_inprocess(path, (plugin_log, settings_raw, list(files), meta),
                                      timeout, log))
    return results
