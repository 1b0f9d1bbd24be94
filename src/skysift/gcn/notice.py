"""The LVK notice, as :mod:`skysift.skymaps.notice` reads it (kept here for plugins and scripts
that import it from the GCN package)."""

from skysift.skymaps import notice as _notice
from skysift.skymaps.notice import *  # noqa: F403 - the same names, one list: the module's

__all__ = _notice.__all__
