"""The pure functions of the images, networks, volumes and events views, run in the browser."""

from __future__ import annotations

import pytest
from webui_harness import OpenPage, module_eval

pytestmark = pytest.mark.root


def test_key_values_tags_and_image_paths(open_page: OpenPage) -> None:
    page = open_page()
    got = module_eval(page, "objects.js", r"""
        let bad = '';
        try { m.parseKeyValues('=x'); } catch (e) { bad = e.message; }
        return [m.parseKeyValues('a=1\n\n b = two=2 \nflag'), bad,
                m.splitTag('busybox'), m.splitTag('127.0.0.1:5000/app:1'), m.splitTag('127.0.0.1:5000/app'),
                m.splitTag('app:1@sha256:abc'),
                m.refPath('127.0.0.1:5000/web ui/app:1'), m.refPath('sha256:0a1b'), m.refPath('a/b@sha256:c')];""")
    assert got == [
        {"a": "1", "b": "two=2", "flag": ""}, '"=x" has no name before "="',
        ["busybox", "latest"], ["127.0.0.1:5000/app", "1"], ["127.0.0.1:5000/app", "latest"], ["app", "1"],
        "127.0.0.1:5000/web%20ui/app:1", "sha256:0a1b", "a/b@sha256:c",
    ]


def test_which_containers_use_networks_and_volumes(open_page: OpenPage) -> None:
    page = open_page()
    got = module_eval(page, "objects.js", """
        const containers = [
          {Id: 'a1', Names: ['/web'], State: 'running',
           NetworkSettings: {Networks: {bridge: {NetworkID: 'n1'}, back: {NetworkID: 'n2'}}},
           Mounts: [{Type: 'volume', Name: 'data', Destination: '/data'}, {Type: 'bind', Source: '/tmp'}]},
          {Id: 'b2', Names: ['/db'], State: 'exited', NetworkSettings: {Networks: {back: {NetworkID: 'n2'}}},
           Mounts: [{Type: 'volume', Name: 'data', Destination: '/var/lib/db'}]},
          {Id: 'c3', Names: ['/bare'], State: 'created'},
        ];
        const byNet = m.containersByNetwork(containers);
        const byVol = m.containersByVolume(containers);
        return [Object.keys(byNet).sort(), byNet.back.map((c) => c.name), byNet.bridge.map((c) => c.id),
                Object.keys(byVol), byVol.data.map((c) => [c.name, c.destination]),
                m.containerLinks([]).textContent, m.containerLinks(byNet.back).textContent,
                m.containerLinks(byNet.back).querySelector('a').getAttribute('href')];""")
    assert got == [["back", "bridge"], ["web", "db"], ["a1"], ["data"], [["web", "/data"], ["db", "/var/lib/db"]],
                   "none", "web, db", "#/containers/a1"]


def test_image_rows_one_per_tag(open_page: OpenPage) -> None:
    page = open_page()
    got = module_eval(page, "views/images.js", """
        const rows = m.imageRows([
          {Id: 'sha256:old', Created: 1, RepoTags: ['busybox:latest', 'reg:5000/bb:1'], Labels: {team: 'x'}},
          {Id: 'sha256:new', Created: 2, RepoTags: ['<none>:<none>'], RepoDigests: ['app@sha256:d']},
          {Id: 'sha256:mid', Created: 1.5, RepoTags: null},
        ]);
        const used = m.containersByImage([{Id: 'c1', Names: ['/a'], ImageID: 'sha256:old', State: 'running'},
                                          {Id: 'c2', Names: ['/b'], ImageID: 'sha256:old'}, {Id: 'c3'}]);
        return [rows.map((r) => [r.repo, r.tag, r.ref]), Object.keys(used), used['sha256:old'].map((c) => c.name),
                rows.filter((r) => m.rowMatches(r, 'team=x bb')).map((r) => r.ref),
                rows.filter((r) => m.rowMatches(r, '')).length];""")
    assert got == [[["app", "<none>", ""], ["<none>", "<none>", ""], ["busybox", "latest", "busybox:latest"],
                    ["reg:5000/bb", "1", "reg:5000/bb:1"]], ["sha256:old"], ["a", "b"], ["reg:5000/bb:1"], 4]


def test_network_and_volume_bodies(open_page: OpenPage) -> None:
    page = open_page()
    network = module_eval(page, "views/networks.js", """
        const base = {name: ' back ', driver: 'bridge', subnet: '', gateway: '', labels: '', options: ''};
        let bad = '';
        try { m.createBody({...base, gateway: '10.0.0.1'}); } catch (e) { bad = e.message; }
        return [m.createBody(base),
                m.createBody({...base, subnet: '10.9.0.0/24', gateway: '10.9.0.1', range: '10.9.0.128/25',
                              internal: true, attachable: true, labels: 'a=b', options: 'mtu=1400'}),
                bad,
                m.subnetsOf({IPAM: {Config: [{Subnet: '10.9.0.0/24', Gateway: '10.9.0.1'},
                                             {Subnet: 'fd00::/64'}]}})];""")
    assert network == [
        {"Name": "back", "Driver": "bridge", "CheckDuplicate": True},
        {"Name": "back", "Driver": "bridge", "CheckDuplicate": True, "Internal": True, "Attachable": True,
         "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1",
                                                   "IPRange": "10.9.0.128/25"}]},
         "Labels": {"a": "b"}, "Options": {"mtu": "1400"}},
        "a gateway needs a subnet", "10.9.0.0/24 via 10.9.0.1, fd00::/64",
    ]
    volume = module_eval(page, "views/volumes.js", """
        return [m.createBody({name: '', driver: 'local', options: '', labels: ''}),
                m.createBody({name: 'data', driver: 'local', options: 'type=tmpfs\\ndevice=tmpfs', labels: 'k=v'}),
                m.volumeMatches({Name: 'data', Driver: 'local', Labels: {backup: 'daily'}}, 'backup=daily'),
                m.volumeMatches({Name: 'data', Driver: 'local'}, 'other')];""")
    assert volume == [{"Driver": "local"},
                      {"Driver": "local", "Name": "data", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"},
                       "Labels": {"k": "v"}},
                      True, False]


def test_event_fields(open_page: OpenPage) -> None:
    page = open_page()
    got = module_eval(page, "views/events.js", """
        const ev = {Type: 'container', Action: 'start', time: 1700000000, timeNano: 1700000000123456789,
                    Actor: {ID: 'a'.repeat(64), Attributes: {name: 'web', image: 'busybox', 'moor.actor': 'admin'}}};
        const bare = {Type: 'network', Action: 'create', time: 5, Actor: {ID: 'n1', Attributes: {}}};
        return [m.eventTime(ev), m.eventTime(bare), m.eventObject(ev), m.eventObject(bare), m.eventDetails(ev),
                m.eventMatches(ev, 'container', 'admin web'), m.eventMatches(ev, 'image', ''),
                m.eventMatches(bare, '', 'start'), m.eventKey(ev) === m.eventKey({...ev}), m.eventKey(bare),
                m.sinceArg(1700000000123.7), m.sinceArg(5)];""")
    assert got == [1700000000123, 5000, "web", "n1", "image=busybox", True, False, False, True, "5|network|create|n1",
                   "1700000000.123000000", "0.005000000"]
