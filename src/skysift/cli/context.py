"""The context every command gets: global options and the settings built from them once."""

from __future__ import annotations

from typing import Any

import click

from skysift.config import Settings, load_settings

__all__ = ["Context", "pass_ctx"]


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
        return self._settings

    def with_overrides(self, **more: Any) -> Settings:
        """Settings with command-specific flags applied on top (flags win over everything)."""
        merged = dict(self.overrides)
        merged.update({k: v for k, v in more.items() if v is not None})
        return load_settings(config_file=self.config_file, overrides=merged)


pass_ctx = click.make_pass_decorator(Context)
