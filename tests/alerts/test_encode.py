"""encode_wire / load_wire_record: out again as the same bytes; records that do not fit."""

from __future__ import annotations

import pytest

from skysift.alerts.encode import encode_wire, load_wire_record
from skysift.alerts.model import AlertOrigin
from skysift.alerts.normalise import normalise_lsst
from skysift.errors import AlertDecodeError, UnknownSchemaError

from .conftest import wire_files


@pytest.mark.parametrize("path", wire_files(), ids=lambda p: p.name)
def test_reencoding_a_real_file_gives_its_bytes(path):
    record, sid = load_wire_record(path)
    assert sid == 900
    assert encode_wire(record, 9, 0) == path.read_bytes()


def test_record_that_does_not_fit(real_records):
    record = dict(real_records[wire_files()[0]])
    record["diaSource"] = dict(record["diaSource"], ra="not a number")
    with pytest.raises(AlertDecodeError, match=r"does not fit schema lsst.v9_0"):
        encode_wire(record, 9, 0)


def test_unshipped_version(real_records):
    with pytest.raises(UnknownSchemaError, match=r"1.2"):
        encode_wire(real_records[wire_files()[0]], 1, 2)


def test_load_wire_record_of_non_wire_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(AlertDecodeError, match=r"first byte is 0x7b") as info:
        load_wire_record(path)
    assert info.value.path == str(path)


def test_digit_string_ids_are_parsed_exactly():
    src = {"diaSourceId": "9223372036854775806", "diaObjectId": "9223372036854775805",
           "midpointMjdTai": 60000.0, "band": "i", "psfFlux": 2.0, "ra": 0.0, "dec": 0.0}
    alert = normalise_lsst({"diaSourceId": "9223372036854775806", "diaSource": src}, "json",
                           AlertOrigin(path="x.json"))
    assert alert.diaSourceId == 9223372036854775806 and alert.diaObjectId == 9223372036854775805
