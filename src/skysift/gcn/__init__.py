"""skysift.gcn: the GCN gravitational-wave listener (gocart's job, its bugs fixed).

Modules: :mod:`settings` (file, validation, init), :mod:`notice` (decode JSON/Avro),
:mod:`filters`, :mod:`pipeline` (one notice end to end), :mod:`products` (CSV, PNG, MOC),
:mod:`eventstate` (event.yaml, latest, retraction), :mod:`plugins`, :mod:`listen`, :mod:`echo`,
:mod:`process`, :mod:`daemon`, :mod:`tag` (skyTag). Heavy imports happen inside functions.
"""

from __future__ import annotations

__all__ = [
           "daemon",
           "echo",
           "eventstate",
           "filters",
           "listen",
           "notice",
           "pipeline",
           "plugins",
           "process",
           "products",
           "settings",
           "tag",
]
