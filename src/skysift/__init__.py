"""skysift: an astronomical alert broker you can run on a laptop or against the Rubin stream.

Rubin alerts in, Lasair-style SQL filters, Kafka streams out; and a GCN gravitational-wave listener.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from skysift.config import Settings, load_settings
from skysift.errors import SkysiftError

try:
    __version__ = version("skysift")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["Settings", "SkysiftError", "__version__", "load_settings"]
