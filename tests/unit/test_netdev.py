"""``docker stats``' ``networks``: /proc/<pid>/net/dev read as Docker reports it."""

from __future__ import annotations

from moor.containers.netdev import parse_net_dev

SAMPLE = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier
    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0    0
  eth0:     866       7    1    2    0     0          0         0      306       3    4    5    0     0       0    0
"""


def test_interfaces_but_loopback_with_dockers_keys() -> None:
    assert parse_net_dev(SAMPLE) == {"eth0": {
        "rx_bytes": 866, "rx_packets": 7, "rx_errors": 1, "rx_dropped": 2,
        "tx_bytes": 306, "tx_packets": 3, "tx_errors": 4, "tx_dropped": 5}}


def test_only_loopback_or_garbage_is_no_interface() -> None:
    assert parse_net_dev(SAMPLE.splitlines(keepends=True)[0] + SAMPLE.splitlines(keepends=True)[1]
                         + SAMPLE.splitlines(keepends=True)[2]) == {}
    assert parse_net_dev("x\ny\n  eth0: a b c\n") == {}
