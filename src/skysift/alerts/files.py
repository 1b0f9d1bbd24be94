"""Alert files: find them, tell their form by content, and read every alert or an error in place.

Forms, told by the first bytes whatever the file is called:

- ``Obj\\x01``: an Avro object-container file, one or many records, writer schema embedded
  (Rubin's ``lsst.vX_Y.alert``, or a re-serialisation such as fink's all-nullable
  ``topLevelRecord``);
- ``0x00``: one alert in Rubin's Kafka framing (schema id ``100 * major + minor``), decoded like a
  Kafka message: history projected, the file's bytes kept in ``Alert.raw`` for
  :func:`skysift.alerts.decode.decode_full`;
- ``{`` or ``[`` (after whitespace): JSON, one object, an array, or JSON Lines.

Directory expansion (:func:`iter_alert_files`) keeps ``*.avro``, ``*.alert``, ``*.json``,
``*.jsonl`` and ``*.ndjson``, recursively, sorted; it skips hidden files and folders, files
without a suffix (READMEs, LICENSEs) and dead-letter ``*.reason.json`` notes. A file named
explicitly is always read, whatever its name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from collections.abc import Iterable, Iterator

from skysift.alerts.decode import decode_message
from skysift.alerts.jsonfile import iter_json_records
from skysift.alerts.model import Alert, AlertOrigin
from skysift.alerts.normalise import normalise_lsst
from skysift.alerts.ocf import OCF_MAGIC, iter_ocf_records
from skysift.errors import AlertDecodeError

__all__ = [
    "ALERT_SUFFIXES",
    "detect_form",
    "iter_alert_files",
    "iter_file_records",
    "read_alerts",
    "read_file_bytes",
]

ALERT_SUFFIXES = frozenset({".avro", ".alert", ".json", ".jsonl", ".ndjson"})
_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})
Form = Literal["ocf", "wire", "json"]


def _wanted(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    if any(part.startswith(".") for part in rel.parts):
        return False
    if path.name.endswith(".reason.json"):
        return False
    return path.suffix.lower() in ALERT_SUFFIXES


def iter_alert_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The alert files named by ``paths``: files as given, directories expanded.

    Parameters
    ----------
    paths
        Files and directories. A directory yields its alert files recursively, sorted by path;
        a file (or a path that does not exist) is yielded as given, so :func:`read_alerts`
        reports it if it cannot be read.

    Yields
    ------
    Path
    """
    for item in paths:
        path = Path(item)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_file() and _wanted(found, path):
                    yield found
        else:
            yield path


def read_file_bytes(path: Path) -> bytes | AlertDecodeError:
    """The whole file, or an error naming why it cannot be read (missing, a folder, empty)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return AlertDecodeError(f"cannot read file: {exc.strerror or exc}", path=str(path))
    if not data:
        return AlertDecodeError("empty file: no bytes to decode", path=str(path))
    return data


def detect_form(data: bytes) -> Form | None:
    """The form of an alert file's content, or None when it is none of the known ones."""
    if data.startswith(OCF_MAGIC):
        return "ocf"
    if data[:1] == b"\x00":
        return "wire"
    head = data[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if head[:1] in (b"{", b"["):
        return "json"
    return None


def _unknown(data: bytes, path: str) -> AlertDecodeError:
    return AlertDecodeError(
        f"unrecognised content: starts with {data[:8]!r}, which is neither an Avro file "
        "(Obj\\x01), Rubin framing (0x00) nor JSON",
        path=path,
    )


def iter_file_records(
    path: Path, data: bytes, form: Form
) -> Iterator[tuple[dict[str, Any], str, AlertOrigin] | AlertDecodeError]:
    """The raw records of an OCF or JSON file (``form`` ``"ocf"`` or ``"json"``)."""
    if form == "ocf":
        return iter_ocf_records(data, str(path))
    return iter_json_records(data, str(path), lines=path.suffix.lower() in _LINES_SUFFIXES)


def read_alerts(path: Path) -> Iterator[Alert | AlertDecodeError]:
    """Every alert in one file, with an error in place of each record that is bad.

    A caller can dead-letter the errors and go on. A corrupt record inside an Avro file loses at
    most the rest of its block; a file that cannot be read at all (missing, empty, unknown
    content, corrupt header) yields exactly one error.

    Parameters
    ----------
    path
        The file; its form is told by content (see the module docstring).

    Yields
    ------
    Alert or AlertDecodeError
        Alerts of framed files have their history projected (``history_complete`` False, see
        :func:`skysift.alerts.decode.decode_message`); those of Avro container and JSON files
        are complete (``raw`` None). Errors carry ``path`` and, inside multi-record files,
        ``record`` (the index).
    """
    path = Path(path)
    data = read_file_bytes(path)
    if isinstance(data, AlertDecodeError):
        yield data
        return
    form = detect_form(data)
    if form is None:
        yield _unknown(data, str(path))
        return
    if form == "wire":
        try:
            yield decode_message(data, AlertOrigin(path=str(path)))
        except AlertDecodeError as exc:
            yield exc
        return
    for item in iter_file_records(path, data, form):
        if isinstance(item, AlertDecodeError):
            yield item
            continue
        record, label, origin = item
        try:
            yield normalise_lsst(record, label, origin)
        except AlertDecodeError as exc:
            yield exc
