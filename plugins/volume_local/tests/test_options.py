"""The local driver's ``-o`` options and names are checked as Docker checks them."""

from __future__ import annotations

import pytest

from moor.errors import InvalidParameter
from moor_volume_local.driver import check_name
from moor_volume_local.options import MountOptions, parse_options


def test_no_options_means_a_plain_directory() -> None:
    assert parse_options({}) == MountOptions()
    assert not parse_options({}).needs_mount


def test_tmpfs_and_bind_options() -> None:
    tmpfs = parse_options({"type": "tmpfs", "device": "tmpfs", "o": "size=100m,uid=1000"})
    assert tmpfs == MountOptions(type="tmpfs", device="tmpfs", data="size=100m,uid=1000") and tmpfs.needs_mount
    bind = parse_options({"type": "none", "device": "/srv/data", "o": "bind"})
    assert bind.is_bind and bind.needs_mount


@pytest.mark.parametrize("options, message", [
    ({"foo": "bar"}, 'invalid option: "foo"'),
    ({"device": "tmpfs"}, 'missing required option: "type"'),
    ({"type": "tmpfs"}, 'missing required option: "device"'),
    ({"o": "size=1m"}, 'missing required option: "device"'),
    ({"size": "1g"}, "quota size requested but no quota support"),
    ({"type": "none", "device": "relative/dir", "o": "bind"}, "must be an absolute path"),
    ({"type": "tmpfs", "device": "tmpfs", "o": "size=1m\x00"}, "invalid option value"),
])
def test_bad_options_are_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        parse_options(options)


@pytest.mark.parametrize("name", ["ab", "data", "my_vol.1-x", "0" * 64, "a..", "v" * 255])
def test_valid_names(name: str) -> None:
    check_name(name)


def test_a_name_longer_than_a_file_name_may_be_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="^volume name is too long for a local volume: 65536 characters"):
        check_name("a" * 65536)


@pytest.mark.parametrize("name", ["..", ".", "../x", "a/b", "/abs", "x", "a\x00b", "-rf", "_x", "bad\n", "", "a b"])
def test_hostile_or_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidParameter, match="includes invalid characters for a local volume name"):
        check_name(name)
