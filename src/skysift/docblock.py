"""Generated blocks of the docs: the text between two marker comments, rewritten in place.

docs/filters.md's column table (:mod:`skysift.store.columns`) and docs/configuration.md's settings
table (:mod:`skysift.configdoc`) are generated this way; tests check that the pages are current.
"""

from __future__ import annotations

__all__ = ["replace_block"]


def replace_block(text: str, block: str, begin: str, end: str) -> str:
    """``block`` between the markers ``begin`` and ``end`` of ``text``; everything outside them
    is kept byte for byte (the markers are appended when missing).

    >>> replace_block("a\\n<b>\\nold\\n<e>\\nz\\n", "new\\n", "<b>", "<e>")
    'a\\n<b>\\nnew\\n<e>\\nz\\n'
    """
    wrapped = f"{begin}\n{block}{end}"
    start = text.find(begin)
    stop = text.find(end, start + 1) if start >= 0 else -1
    if start < 0 or stop < 0:
        sep = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{sep}{wrapped}\n"
    return text[:start] + wrapped + text[stop + len(end):]
