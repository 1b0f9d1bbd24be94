"""The context every command gets: global options and the settings built from them once."""

from __future__ import annotations

import logging
from typing import Any

import click

from skysift.config import Settings, load_settings

__all__ = ["NOISY_LOGGERS", "Context", "configure_logging", "pass_ctx"]

#: libraries that log a lot at INFO: warnings and worse only, unless debugging
NOISY_LOGGERS = ("alembic", "sqlalchemy", "matplotlib", "httpx", "asyncio")


def configure_logging(level: str, debug: bool) -> None:
    """Set the level of skysift's log: ``DEBUG`` when ``debug``, else ``level`` (the
    ``log_level`` setting); the :data:`NOISY_LOGGERS` log warnings and worse unless ``debug``."""
    logging.getLogger().setLevel(logging.DEBUG if debug else logging.getLevelName(level.upper()))
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.NOTSET if debug else logging.WARNING)


class Context:
    """What every command gets: the global options, and the settings built from them once."""

    def __init__(self, overrides: dict[str, Any], config_file: str | None, debug: bool) -> None:
        self.overrides = overrides
        self.config_file = config_file
        self.debug = debug
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(config_file=self.config_file, overrides=self.overrides)
            configure_logging(self._settings.log_level, self._settings.debug)
        return self._settings

    def with_overrides(self, **more: Any) -> Settings:
        """Settings with command-specific flags applied on top (flags win over everything)."""
        merged = dict(self.overrides)
        merged.update({k: v for k, v in more.items() if v is not None})
        settings = load_settings(config_file=self.config_file, overrides=merged)
        configure_logging(settings.log_level, settings.debug)
        return settings


pass_ctx = click.make_pass_decorator(Context)
