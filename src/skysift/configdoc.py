"""docs/configuration.md's tables, generated from the settings registry of :mod:`skysift.config`.

Run ``python -m skysift.configdoc --markdown`` to print them, or ``--write
docs/configuration.md`` to replace the block between the ``settings`` markers in place (a test
fails when the page is not what this writes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from skysift import docblock
from skysift.config import ENVIRONMENT, SETTINGS, SettingSpec

__all__ = ["BEGIN_MARKER", "END_MARKER", "main", "markdown_table", "replace_block"]

BEGIN_MARKER = "<!-- settings:begin -->"
END_MARKER = "<!-- settings:end -->"
_SECRET_TEXT: dict[str, str] = {
    "value": "Secret: never printed, logged or shown by `skysift config` (`***`).",
    "url": "A password in the URL (`scheme://user:PASSWORD@host`) is secret: `repr`, logs and "
           "`skysift config` show `***`.",
    "keys": "Values under keys naming a password, secret, token or private key (`sasl.password`, "
            "`ssl.key.pem`...) are secret: `repr`, logs and `skysift config` show `***`.",
}


def _default_text(spec: SettingSpec) -> str:
    if spec.default_text is not None:
        return spec.default_text
    value = spec.default
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def markdown_table() -> str:
    """The settings and the other ``SKYSIFT_*`` variables as markdown, for docs/configuration.md
    (without the markers), ending in a newline."""
    lines = [
        "Generated from the settings declared in `skysift/config_declared.py` by "
        "`python -m skysift.configdoc --write docs/configuration.md`; do not edit by hand.",
        "",
        "| setting | default | meaning |",
        "|---|---|---|",
    ]
    for spec in SETTINGS:
        meaning = spec.help
        if spec.secret is not None:
            meaning += " " + _SECRET_TEXT[spec.secret]
        lines.append(f"| `{spec.name}` | {_default_text(spec)} | {meaning} |")
    lines += [
        "",
        "### Other `SKYSIFT_*` variables",
        "",
        "These are not settings (not in the config file); every other `SKYSIFT_*` variable must "
        "name a setting.",
        "",
        "| variable | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {text} |" for name, text in ENVIRONMENT.items()]
    return "\n".join(lines) + "\n"


def replace_block(text: str, table: str) -> str:
    """Put ``table`` between the settings markers of ``text``
    (:func:`skysift.docblock.replace_block`)."""
    return docblock.replace_block(text, table, BEGIN_MARKER, END_MARKER)


def main(argv: list[str] | None = None) -> int:
    """``python -m skysift.configdoc [--markdown | --write PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m skysift.configdoc",
                                     description="The settings registry.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--markdown", action="store_true", help="print the markdown tables")
    group.add_argument("--write", metavar="PATH", type=Path,
                       help="replace the tables between the settings markers in PATH")
    args = parser.parse_args(argv)
    if args.write is not None:
        path: Path = args.write
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(replace_block(old, markdown_table()), encoding="utf-8")
        return 0
    if args.markdown:
        sys.stdout.write(markdown_table())
        return 0
    for spec in SETTINGS:
        secret = "\tsecret" if spec.secret else ""
        print(f"{spec.name}\t{spec.type}\t{spec.env}{secret}")
    return 0


if __name__ == "__main__":  # pragma: no cover - command line
    raise SystemExit(main())
