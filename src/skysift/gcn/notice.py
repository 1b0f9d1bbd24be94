"""The LVK notice, as :mod:`skysift.skymaps.notice` reads it (kept here for plugins and scripts
that import it from the GCN package)."""

from skysift.skymaps.notice import (
    ALERT_TYPES,
    Notice,
    decode_notice,
    decode_notices,
    normalise_alert_type,
    parse_time,
    schema_problems,
)

__all__ = [
    "ALERT_TYPES",
    "Notice",
    "decode_notice",
    "decode_notices",
    "normalise_alert_type",
    "parse_time",
    "schema_problems",
]
