"""Netlink errors in the bridge driver's words (no host changes)."""

from __future__ import annotations

import errno

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from moor.errors import Conflict, Unavailable
from moor_net_bridge import links


def test_the_1025th_port_of_a_bridge_is_refused_with_what_to_do() -> None:
    """A Linux bridge takes 1024 ports (BR_MAX_PORTS): the kernel answers the next with EXFULL."""
    words = (r"^connecting to bridge br-x: the bridge has 1024 ports, the most a Linux bridge takes; connect "
             r"further containers to another network$")
    with pytest.raises(Unavailable, match=words), links.netlink_errors("connecting to bridge br-x"):
        raise NetlinkError(errno.EXFULL, "Exchange full")


def test_other_errors_keep_the_kernel_words() -> None:
    with pytest.raises(Conflict, match="^making br-x: File exists$"), links.netlink_errors("making br-x"):
        raise NetlinkError(errno.EEXIST, "File exists")
