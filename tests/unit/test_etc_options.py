"""resolv.conf and /etc/hosts as Docker writes them for --dns*, --hostname and --domainname (no containers)."""

from __future__ import annotations

from moor.containers.etcfiles import hosts_text, resolv_conf_text


def host_file(tmp_path, text: str) -> str:
    path = tmp_path / "resolv.conf"
    path.write_text(text)
    return str(path)


def test_dns_options_rebuild_the_file_in_dockers_order(tmp_path) -> None:
    host = host_file(tmp_path, "# a comment\nnameserver 192.0.2.1\nsearch host.test\noptions rotate\n")
    assert resolv_conf_text(host, dns=["10.0.0.53"], search=["example.test"], options=["ndots:2"]) == \
        "search example.test\nnameserver 10.0.0.53\noptions ndots:2\n"


def test_what_is_not_given_comes_from_the_host(tmp_path) -> None:
    host = host_file(tmp_path, "nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch host.test\noptions rotate\n")
    assert resolv_conf_text(host, dns=["10.0.0.53"]) == "search host.test\nnameserver 10.0.0.53\noptions rotate\n"
    assert resolv_conf_text(host, search=["a.test", "b.test"]) == \
        "search a.test b.test\nnameserver 192.0.2.1\noptions rotate\n"
    assert resolv_conf_text(host, search=["."]) == "nameserver 192.0.2.1\noptions rotate\n"


def test_own_entry_with_and_without_domainname() -> None:
    assert hosts_text("box", "10.1.0.2").splitlines()[-1] == "10.1.0.2\tbox"
    assert hosts_text("box", "10.1.0.2", ["10.9.9.9\tdb"], "corp.test").splitlines()[-2:] == \
        ["10.9.9.9\tdb", "10.1.0.2\tbox.corp.test box"]
