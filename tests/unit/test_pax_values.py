"""PAX numbers out of range are refused when the header is read (issue 12: a PUT archive with mtime=1e999
or uid=2^80 was a 500 from OverflowError, a negative size a 500 from deep in tarfile)."""

from __future__ import annotations

import io
import tarfile

import pytest

from moor.errors import InvalidParameter
from moor.targuard import GuardedTarInfo, check_pax_values, pax_records


def _archive(headers: dict[str, str]) -> bytes:
    member = tarfile.TarInfo("f")
    member.size = 1
    member.pax_headers = headers
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(member, io.BytesIO(b"x"))
    return out.getvalue()


@pytest.mark.parametrize("headers", [{"mtime": "1e999"}, {"mtime": "nan"}, {"mtime": "99999999999999999999"},
                                     {"uid": str(2**80)}, {"gid": "-1"}, {"size": "-512"}, {"atime": "1.x"}])
def test_out_of_range_is_refused(headers: dict[str, str]) -> None:
    data = io.BytesIO(_archive(headers))
    with pytest.raises(InvalidParameter, match="out of range"), \
            tarfile.open(fileobj=data, mode="r|", tarinfo=GuardedTarInfo) as archive:
        list(archive)


@pytest.mark.parametrize("headers", [{"mtime": "1700000000.123456789"}, {"mtime": "-5"}, {"uid": "4294967294"},
                                     {"comment": "size=-1 is only a comment"}])
def test_ordinary_values_pass(headers: dict[str, str]) -> None:
    with tarfile.open(fileobj=io.BytesIO(_archive(headers)), mode="r|", tarinfo=GuardedTarInfo) as archive:
        assert [m.name for m in archive] == ["f"]


def test_records_are_read_by_length() -> None:
    records = pax_records(b"30 comment=uid=99999999999999\n")  # a key's look-alike inside a value is no key
    assert records == {"comment": "uid=99999999999999"}
    check_pax_values(records, "member 'f'")


def test_gnu_base256_owner_out_of_range_is_refused() -> None:
    member = tarfile.TarInfo("big-owner")
    member.uid = 2**40  # GNU format writes it in base-256: no PAX header involved
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
        archive.addfile(member)
    out.seek(0)
    with pytest.raises(InvalidParameter, match="'big-owner'"), \
            tarfile.open(fileobj=out, mode="r|", tarinfo=GuardedTarInfo) as archive:
        list(archive)
