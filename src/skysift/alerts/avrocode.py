"""Python code generated per Avro schema to read (or step over) values in a byte buffer.

:class:`CodeGen` writes straight-line Python for a writer schema's types: one or two statements
per field read, runs of skipped fields stepped over by one regular-expression match, and for a
projected record (a history item) one expression matching the whole item with a group per kept
field. :func:`compile_reader` turns that into a function ``read(buf, p, end) -> (value, p)``.
The helpers here (:func:`varint`, :func:`read_long`) are what the generated code calls.

Every generated reader is strict: anything unexpected raises :class:`FastDecodeError` (see
:mod:`skysift.alerts.project`, which uses it for the alert history).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any, cast

from skysift.errors import FastDecodeError, Unsupported

__all__ = ["PRIMITIVE_TYPES", "CodeGen", "FastDecodeError", "Unsupported", "compile_reader",
           "read_long", "varint"]

#: A zig-zag varint of at most 10 bytes whose value fits 64 bits: a 10th byte holds bit 63 only
#: (0 or 1). fastavro wraps a longer value to 64 bits; the fast readers leave such (corrupt)
#: bytes to it, so the value is fastavro's either way.
_VARINT = b"(?:[\\x80-\\xff]{0,8}[\\x00-\\x7f]|[\\x80-\\xff]{9}[\\x00\\x01])"
#: A string of 0 to 63 ASCII characters (its length is one varint byte): what history items
#: hold (band names); UTF-8 need not be checked. Longer or non-ASCII strings do not match.
_SHORT_ASCII = b"(?:" + b"|".join(
    re.escape(bytes([2 * n])) + (b"[\\x00-\\x7f]{%d}" % n if n else b"") for n in range(64)) + b")"
#: For the item expression: what a wanted value of each primitive type captures, and the
#: expression of its value from the captured bytes ``{g}``.
_CAPTURES: dict[str, tuple[bytes, str]] = {
    "long": (_VARINT, "_varint({g})"),
    "int": (_VARINT, "_varint({g})"),
    "double": (b".{8}", "_D({g})[0]"),
    "float": (b".{4}", "_F({g})[0]"),
    "boolean": (b"[\x00\x01]", "{g} == b'\\x01'"),
    "string": (_SHORT_ASCII, "{g}[1:].decode()"),
}
PRIMITIVE_TYPES = frozenset({"null", "boolean", "int", "long", "float", "double",
                             "bytes", "string"})


def read_long(buf: bytes, p: int) -> tuple[int, int]:
    """A zig-zag varint at ``p`` (at most 10 bytes, its value within 64 bits): (value, next
    position). A 10th byte above 1 (bits beyond 64, which fastavro wraps) raises."""
    acc = 0
    shift = 0
    while True:
        b = buf[p]
        p += 1
        if shift == 63 and b > 1:
            raise FastDecodeError("varint beyond 64 bits")
        acc |= (b & 0x7F) << shift
        if b < 0x80:
            return (acc >> 1) ^ -(acc & 1), p
        shift += 7
        if shift > 63:
            raise FastDecodeError("varint longer than 10 bytes")


def _skip_long(buf: bytes, p: int) -> int:
    end = p + 10
    while buf[p] >= 0x80:
        p += 1
        if p >= end:
            raise FastDecodeError("varint longer than 10 bytes")
    return p + 1


_STRIP_HIGH = bytes(i & 0x7F for i in range(256))
_L1 = int.from_bytes(b"\x7f\x00" * 5, "little")
_H1 = _L1 << 8
_L2 = int.from_bytes(b"\xff\x3f\x00\x00" * 3, "little")
_H2 = _L2 << 16
_L3 = int.from_bytes(b"\xff\xff\xff\x0f\x00\x00\x00\x00" * 2, "little")
_H3 = _L3 << 32


def varint(b: bytes) -> int:
    """The zig-zag varint that is exactly ``b`` (1 to 10 bytes, within 64 bits, as matched by
    the item expression): the same value as :func:`read_long`, ~3x faster for 64-bit ids. The
    high bits are cleared by ``translate`` and the 7-bit groups packed in three mask-and-shift
    steps."""
    if len(b) == 1:
        z = b[0]
    else:
        x = int.from_bytes(b.translate(_STRIP_HIGH), "little")
        x = (x & _L1) | ((x & _H1) >> 1)  # 14 bits per 16
        x = (x & _L2) | ((x & _H2) >> 2)  # 28 bits per 32
        x = (x & _L3) | ((x & _H3) >> 4)  # 56 bits per 64
        z = (x & 0xFFFFFFFFFFFFFF) | ((x >> 64) << 56)  # the 9th and 10th bytes
    return (z >> 1) ^ -(z & 1)


_ENV: dict[str, Any] = {
    "_varint": varint,
    "_long": read_long,
    "_skip_long": _skip_long,
    "_F": struct.Struct("<f").unpack_from,
    "_D": struct.Struct("<d").unpack_from,
    "_Bad": FastDecodeError,
}


class CodeGen:
    """Python source for reading or skipping Avro values at ``buf[p]``."""

    def __init__(self, named: dict[str, Any], repeated: frozenset[str] = frozenset()) -> None:
        self.named = named
        self.repeated = repeated
        self.lines: list[str] = []
        self.n = 0
        self.consts: dict[str, Any] = {}
        #: applied to the first record read (a history array's item), then cleared
        self.project: frozenset[str] | None = None
        #: the item expression keeps the last repeated id (``_bl`` bytes, ``_vl`` value)
        self.memo = False

    def var(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def emit(self, ind: int, line: str) -> None:
        self.lines.append("    " * ind + line)

    def resolve(self, t: Any) -> Any:
        while isinstance(t, str) and t not in PRIMITIVE_TYPES:
            if t not in self.named:
                raise Unsupported(f"unknown named type {t}")
            t = self.named[t]
        if isinstance(t, dict) and t.get("type") in PRIMITIVE_TYPES and len(
                [k for k in t if not k.startswith("__")]) == 1:
            return t["type"]
        return t

    # -- varints -------------------------------------------------------------------------
    def read_long(self, ind: int, target: str) -> None:
        b = self.var("b")
        self.emit(ind, f"{b} = buf[p]")
        self.emit(ind, f"if {b} < 128:")
        self.emit(ind + 1, f"{target} = ({b} >> 1) ^ -({b} & 1)")
        self.emit(ind + 1, "p += 1")
        self.emit(ind, "else:")
        self.emit(ind + 1, f"{target}, p = _long(buf, p)")

    def skip_long(self, ind: int) -> None:
        self.emit(ind, "if buf[p] < 128:")
        self.emit(ind + 1, "p += 1")
        self.emit(ind, "else:")
        self.emit(ind + 1, "p = _skip_long(buf, p)")

    def length(self, ind: int, target: str) -> None:
        self.read_long(ind, target)
        self.emit(ind, f"if {target} < 0 or p + {target} > end:")
        self.emit(ind + 1, "raise _Bad('length past the end')")

    # -- values ----------------------------------------------------------------------------
    def value(self, t: Any, ind: int, target: str | None, keep: frozenset[str] | None = None
              ) -> None:
        """Code that reads a value of type ``t`` into ``target`` (skips it when None)."""
        t = self.resolve(t)
        if isinstance(t, list):
            self.union(t, ind, target)
            return
        if isinstance(t, dict):
            kind = t["type"]
            if target is not None and "logicalType" in t:
                raise Unsupported(f"logical type {t['logicalType']}")
            if kind == "record":
                self.record(t, ind, target, keep)
            elif kind == "array":
                self.array(t, ind, target)
            elif kind == "map":
                self.map(t, ind, target)
            elif kind == "enum":
                self.enum(t, ind, target)
            elif kind == "fixed":
                size = int(t["size"])
                self.emit(ind, f"if p + {size} > end:")
                self.emit(ind + 1, "raise _Bad('fixed past the end')")
                if target is not None:
                    self.emit(ind, f"{target} = buf[p:p + {size}]")
                self.emit(ind, f"p += {size}")
            elif kind in PRIMITIVE_TYPES:
                self.primitive(kind, ind, target)
            else:
                raise Unsupported(f"type {kind}")
            return
        self.primitive(t, ind, target)

    def primitive(self, t: str, ind: int, target: str | None) -> None:
        if t == "null":
            if target is not None:
                self.emit(ind, f"{target} = None")
        elif t == "boolean":
            b = self.var("b")
            self.emit(ind, f"{b} = buf[p]")
            self.emit(ind, f"if {b} > 1:")
            self.emit(ind + 1, "raise _Bad('boolean byte not 0 or 1')")
            if target is not None:
                self.emit(ind, f"{target} = {b} == 1")
            self.emit(ind, "p += 1")
        elif t in ("int", "long"):
            if target is None:
                self.skip_long(ind)
            else:
                self.read_long(ind, target)
        elif t in ("float", "double"):
            size, fn = (4, "_F") if t == "float" else (8, "_D")
            if target is not None:
                self.emit(ind, f"{target} = {fn}(buf, p)[0]")
            self.emit(ind, f"p += {size}")
        elif t in ("string", "bytes"):
            n = self.var("n")
            self.length(ind, n)
            if t == "string":  # decoded even when skipped: invalid UTF-8 must fail as before
                self.emit(ind, f"{target or '_'} = buf[p:p + {n}].decode()")
            elif target is not None:
                self.emit(ind, f"{target} = buf[p:p + {n}]")
            self.emit(ind, f"p += {n}")
        else:
            raise Unsupported(f"type {t}")

    def union(self, branches: list[Any], ind: int, target: str | None) -> None:
        if len(branches) > 63:
            raise Unsupported("union of more than 63 branches")
        i = self.var("u")
        self.emit(ind, f"{i} = buf[p]")
        self.emit(ind, "p += 1")
        for k, branch in enumerate(branches):
            self.emit(ind, f"{'if' if k == 0 else 'elif'} {i} == {2 * k}:")
            before = len(self.lines)
            self.value(branch, ind + 1, target)
            if len(self.lines) == before:
                self.emit(ind + 1, "pass")
        self.emit(ind, "else:")
        self.emit(ind + 1, "raise _Bad('union index out of range')")

    def enum(self, t: dict[str, Any], ind: int, target: str | None) -> None:
        symbols = tuple(t["symbols"])
        name = self.var("_sym")
        self.consts[name] = symbols
        i = self.var("e")
        self.read_long(ind, i)
        self.emit(ind, f"if not 0 <= {i} < {len(symbols)}:")
        self.emit(ind + 1, "raise _Bad('enum index out of range')")
        if target is not None:
            self.emit(ind, f"{target} = {name}[{i}]")

    def blocks(self, ind: int, body: Callable[[int], None], min_size: int) -> None:
        """The block loop of an array or map; ``body`` emits one item at ``ind + 2``."""
        n, k = self.var("n"), self.var("k")
        self.emit(ind, "while True:")
        self.read_long(ind + 1, n)
        self.emit(ind + 1, f"if {n} == 0:")
        self.emit(ind + 2, "break")
        self.emit(ind + 1, f"if {n} < 0:")
        self.emit(ind + 2, f"{n} = -{n}")
        self.skip_long(ind + 2)
        if min_size:
            self.emit(ind + 1, f"if {n} * {min_size} > end - p:")
            self.emit(ind + 2, "raise _Bad('block count past the end')")
        self.emit(ind + 1, f"for {k} in range({n}):")
        body(ind + 2)

    def min_size(self, t: Any, depth: int = 0) -> int:
        t = self.resolve(t)
        if depth > 20:
            return 0
        if isinstance(t, list):
            return 1
        if isinstance(t, dict):
            kind = t["type"]
            if kind == "record":
                return sum(self.min_size(f["type"], depth + 1) for f in t["fields"])
            if kind == "fixed":
                return int(t["size"])
            if kind in ("array", "map", "enum"):
                return 1
            t = kind
        return {"null": 0, "boolean": 1, "float": 4, "double": 8}.get(t, 1)

    def array(self, t: dict[str, Any], ind: int, target: str | None) -> None:
        items = t["items"]
        if target is None:
            self.blocks(ind, lambda i: self.value(items, i, None), self.min_size(items))
            return
        out = self.var("a")
        self.emit(ind, f"{out} = []")
        item = self.var("x")

        def one(i: int) -> None:
            self.value(items, i, item)
            self.emit(i, f"{out}.append({item})")

        self.blocks(ind, one, self.min_size(items))
        self.emit(ind, f"{target} = {out}")

    def map(self, t: dict[str, Any], ind: int, target: str | None) -> None:
        values = t["values"]
        out, key, val = self.var("m"), self.var("key"), self.var("v")

        def one(i: int) -> None:
            self.primitive("string", i, key if target is not None else None)
            self.value(values, i, val if target is not None else None)
            if target is not None:
                self.emit(i, f"{out}[{key}] = {val}")

        if target is not None:
            self.emit(ind, f"{out} = {{}}")
        self.blocks(ind, one, 1 + self.min_size(values))
        if target is not None:
            self.emit(ind, f"{target} = {out}")

    def pattern(self, t: Any, depth: int = 0) -> bytes | None:
        """A regular expression matching exactly the valid encodings of a value of type ``t``
        that needs no check beyond its bytes (no string: UTF-8 is checked), else None."""
        t = self.resolve(t)
        if depth > 5:
            return None
        if isinstance(t, list):
            if len(t) > 63:
                return None
            alts = []
            for k, branch in enumerate(t):
                inner = self.pattern(branch, depth + 1)
                if inner is None:
                    return None
                alts.append(re.escape(bytes([2 * k])) + inner)
            return b"(?:" + b"|".join(alts) + b")"
        if isinstance(t, dict):
            kind = t["type"]
            if kind == "fixed":
                return b".{%d}" % int(t["size"])
            if kind == "enum" and 0 < len(t["symbols"]) <= 64:
                return b"[" + b"".join(re.escape(bytes([2 * k])) for k in
                                       range(len(t["symbols"]))) + b"]"
            if kind == "record" and t["fields"]:
                parts = [self.pattern(f["type"], depth + 1) for f in t["fields"]]
                found = [x for x in parts if x is not None]
                return b"".join(found) if len(found) == len(parts) else None
            if kind not in PRIMITIVE_TYPES:
                return None
            t = kind
        return {"null": b"", "boolean": b"[\x00\x01]", "int": _VARINT, "long": _VARINT,
                "float": b".{4}", "double": b".{8}"}.get(t)

    def skip_run(self, ind: int, patterns: list[bytes]) -> None:
        """Step over consecutive skipped values with one regular expression match."""
        name = self.var("_rx")
        self.consts[name] = re.compile(b"".join(patterns), re.DOTALL).match
        m = self.var("m")
        self.emit(ind, f"{m} = {name}(buf, p)")
        self.emit(ind, f"if {m} is None:")
        self.emit(ind + 1, "raise _Bad('bytes do not follow the schema')")
        self.emit(ind, f"p = {m}.end()")

    def item_expression(self, t: dict[str, Any], keep: frozenset[str]
                        ) -> tuple[bytes, list[str]] | None:
        """One regular expression matching a whole history item whose strings are short ASCII,
        with a group per wanted field, and the Python expression giving each wanted field's
        value from ``g`` (the match's groups): ``(pattern, ["'name': expr", ...])``.
        None when a field's type is not covered (the item is then read field by field)."""
        pats: list[bytes] = []
        parts: list[str] = []
        group = 0
        for f in t["fields"]:
            ftype = self.resolve(f["type"])
            wanted = f["name"] in keep
            branches = ftype if isinstance(ftype, list) else [ftype]
            if len(branches) > 63:
                return None
            kinds = [self.resolve(b) for b in branches]
            if not wanted:
                alts = []
                for k, kind in enumerate(kinds):
                    inner = _SHORT_ASCII if kind == "string" else self.pattern(kind)
                    if inner is None:
                        return None
                    alts.append((re.escape(bytes([2 * k])) if isinstance(ftype, list) else b"")
                                + inner)
                pats.append(b"(?:" + b"|".join(alts) + b")")
                continue
            # a wanted field: one value branch, optionally with null
            value = [(k, kind) for k, kind in enumerate(kinds) if kind != "null"]
            if len(value) != 1 or not isinstance(value[0][1], str):
                return None
            k, kind = value[0]
            if kind not in _CAPTURES:
                return None
            capture, expr = _CAPTURES[kind]
            g = f"g[{group}]"
            group += 1
            expr = expr.format(g=g)
            if f["name"] in self.repeated and kind in ("long", "int"):
                # every item of an alert has the same diaObjectId: convert its bytes once
                expr = f"(_vl if {g} == _bl else (_bl := {g}, _vl := {expr})[1])"
                self.memo = True
            if isinstance(ftype, list):
                alts = [re.escape(bytes([2 * j])) for j, b in enumerate(kinds) if b == "null"]
                alts.append(re.escape(bytes([2 * k])) + b"(" + capture + b")")
                pats.append(b"(?:" + b"|".join(alts) + b")")
                if len(kinds) > 1:
                    expr = f"(None if {g} is None else {expr})"
            else:
                pats.append(b"(" + capture + b")")
            parts.append(f"{f['name']!r}: {expr}")
        return b"".join(pats), parts

    def record(self, t: dict[str, Any], ind: int, target: str | None,
               keep: frozenset[str] | None) -> None:
        if target is not None and self.project is not None:
            keep, self.project = self.project, None
            found = self.item_expression(t, keep)
            if found is not None:
                # the fast way for an item: one match and a conversion per wanted field; an item
                # the expression does not match (a long or non-ASCII string, or bad bytes) is
                # read field by field below, which gives the exact value or the exact error
                name, m = self.var("_item"), self.var("m")
                self.consts[name] = re.compile(found[0], re.DOTALL).match
                self.emit(ind, f"{m} = {name}(buf, p)")
                self.emit(ind, f"if {m} is not None:")
                self.emit(ind + 1, f"p = {m}.end()")
                self.emit(ind + 1, f"g = {m}.groups()")
                self.emit(ind + 1, f"{target} = {{{', '.join(found[1])}}}")
                self.emit(ind, "else:")
                self.record_fields(t, ind + 1, target, keep)
                return
        self.record_fields(t, ind, target, keep)

    def record_fields(self, t: dict[str, Any], ind: int, target: str | None,
                      keep: frozenset[str] | None) -> None:
        parts: list[str] = []
        run: list[bytes] = []
        for f in t["fields"]:
            wanted = target is not None and (keep is None or f["name"] in keep)
            if not wanted:
                pat = self.pattern(f["type"])
                if pat is not None:
                    run.append(pat)
                    continue
            if run:
                self.skip_run(ind, run)
                run = []
            var = self.var("f") if wanted else None
            self.value(f["type"], ind, var)
            if var is not None:
                parts.append(f"{f['name']!r}: {var}")
        if run:
            self.skip_run(ind, run)
        if target is not None:
            self.emit(ind, f"{target} = {{{', '.join(parts)}}}")


def compile_reader(ftype: Any, named: dict[str, Any], keep: frozenset[str],
                   repeated: frozenset[str] = frozenset()
                   ) -> Callable[[bytes, int, int], tuple[Any, int]]:
    """A function ``read(buf, p, end) -> (value, p)`` for a value of type ``ftype`` (named types
    in ``named``) whose first record read (an array's item) keeps the ``keep`` fields and steps
    over the others; ``repeated`` integer fields are converted once per run of equal bytes.

    Raises
    ------
    Unsupported
        A type the generator does not read (the caller uses fastavro there).
    """
    gen = CodeGen(named, repeated)
    gen.project = keep
    gen.emit(0, "def read(buf, p, end):")
    gen.value(ftype, 1, "out")
    gen.emit(1, "return out, p")
    if gen.memo:
        gen.lines.insert(1, "    _bl = _vl = None")
    env = dict(_ENV, **gen.consts)
    exec(compile("\n".join(gen.lines), "<skysift-history-reader>", "exec"), env)
    read = env["read"]
    read.item_expression = any(k.startswith("_item") for k in gen.consts)  # for tests
    return cast(Callable[..., Any], read)  # the function the generated source defines
