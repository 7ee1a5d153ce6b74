"""Seccomp profiles translated for runc, --security-opt as Docker reads it, AppArmor refusals, SecurityOptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moor.containers import apparmor, seccomp, security
from moor.containers.spec import ALL_CAPABILITIES, DEFAULT_CAPABILITIES
from moor.errors import InvalidParameter
from moor.services import system

CLONE_NEWUSER = 0x10000000


def rules_for(result: dict[str, Any] | None, name: str) -> list[dict[str, Any]]:
    assert result is not None
    return [rule for rule in result["syscalls"] if name in rule["names"]]


def unconditional(result: dict[str, Any] | None, name: str) -> bool:
    return any(rule["action"] == "SCMP_ACT_ALLOW" and "args" not in rule for rule in rules_for(result, name))


def default(caps: tuple[str, ...] | list[str] = DEFAULT_CAPABILITIES) -> dict[str, Any]:
    return seccomp.default_profile(list(caps))


# --------------------------------------------------------------------------- the default profile


def test_default_profile_refuses_with_eperm_on_this_architecture() -> None:
    result = default()
    assert result["defaultAction"] == "SCMP_ACT_ERRNO" and result["defaultErrnoRet"] == 1
    if seccomp.native_arch() == "amd64":
        assert result["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        assert unconditional(result, "arch_prctl")
    assert unconditional(result, "read") and unconditional(result, "execve")


@pytest.mark.parametrize("name", ["keyctl", "add_key", "request_key", "io_uring_setup", "userfaultfd",
                                  "perf_event_open", "unshare", "setns", "mount", "bpf", "kexec_load"])
def test_default_caps_leave_the_dangerous_calls_out(name: str) -> None:
    assert rules_for(default(), name) == []


def test_cap_sys_admin_allows_the_namespace_and_mount_calls() -> None:
    with_admin = default([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    for name in ("unshare", "setns", "mount", "umount2", "clone", "clone3", "perf_event_open", "bpf"):
        assert unconditional(with_admin, name), name
    assert rules_for(with_admin, "keyctl") == [] and rules_for(with_admin, "io_uring_setup") == []


def test_clone_without_cap_sys_admin_refuses_namespace_flags() -> None:
    clone = rules_for(default(), "clone")
    assert len(clone) == 1 and clone[0]["action"] == "SCMP_ACT_ALLOW"
    (arg,) = clone[0]["args"]
    assert arg["op"] == "SCMP_CMP_MASKED_EQ" and arg["index"] == 0 and arg["valueTwo"] == 0
    assert arg["value"] & CLONE_NEWUSER and arg["value"] == 0x7E020000
    assert rules_for(default(), "clone3") == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]


def test_socket_refuses_af_alg_and_af_vsock_whatever_the_caps() -> None:
    for caps in (DEFAULT_CAPABILITIES, ALL_CAPABILITIES):
        args = [rule["args"] for rule in rules_for(default(caps), "socket")]
        assert args == [[{"index": 0, "value": 38, "valueTwo": 0, "op": "SCMP_CMP_LT"}],
                        [{"index": 0, "value": 39, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
                        [{"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_GT"}]]


def test_personality_allows_only_dockers_values() -> None:
    values = sorted(rule["args"][0]["value"] for rule in rules_for(default(), "personality"))
    assert values == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]


def test_capability_rules_follow_the_bounding_set() -> None:
    assert rules_for(default(), "chroot") and not rules_for(default(["CAP_CHOWN"]), "chroot")
    assert not rules_for(default(), "ptrace") or unconditional(default(), "ptrace")  # minKernel 4.8
    assert unconditional(default(["CAP_SYS_TIME"]), "settimeofday")
    assert not rules_for(default(), "settimeofday")
    assert unconditional(default(["CAP_PERFMON"]), "perf_event_open")


def test_the_translation_is_cached_and_each_caller_gets_its_own_dict() -> None:
    first, second = default(), default()
    assert first == second and first is not second
    first["syscalls"].clear()
    assert default()["syscalls"]


# --------------------------------------------------------------------------- translation of any profile


PROFILE: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"name": "getpid", "action": "SCMP_ACT_ALLOW"},
        {"names": ["amd"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {"names": ["notamd"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
        {"names": ["admin"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}},
        {"names": ["noadmin"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["new"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}},
        {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
        {"names": ["flags"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 1, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
    ],
}


def names(result: dict[str, Any] | None) -> list[str]:
    assert result is not None
    return [name for rule in result["syscalls"] for name in rule["names"]]


def test_conditions_on_arch_caps_and_kernel() -> None:
    result = seccomp.translate(PROFILE, ["CAP_SYS_ADMIN", "CAP_BPF"], arch="amd64", kernel=(6, 1))
    assert result is not None and result["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert names(result) == ["read", "getpid", "amd", "admin", "new", "flags"]
    result = seccomp.translate(PROFILE, ["CAP_SYS_ADMIN"], arch="arm64", kernel=(4, 19))
    assert result is not None and result["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert names(result) == ["read", "getpid", "notamd", "old", "flags"]  # "admin" needs both caps
    result = seccomp.translate(PROFILE, [], arch="amd64", kernel=(5, 10))
    assert names(result) == ["read", "getpid", "amd", "noadmin", "new", "flags"]
    assert result is not None and result["syscalls"][3] == {"names": ["noadmin"], "action": "SCMP_ACT_ERRNO",
                                                            "errnoRet": 38}
    assert result["syscalls"][-1]["args"] == [{"index": 1, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]


def test_an_empty_profile_means_no_filter() -> None:
    assert seccomp.translate({}, []) is None
    assert seccomp.translate({"defaultAction": "SCMP_ACT_ALLOW"}, []) == {"defaultAction": "SCMP_ACT_ALLOW",
                                                                         "syscalls": []}


def test_kernel_and_arch_names() -> None:
    assert seccomp.kernel_version("6.18.44-fc-v1300") == (6, 18)
    assert seccomp.kernel_version("3.12-rc5") == (3, 12)
    assert seccomp.native_arch("x86_64") == "amd64" and seccomp.native_arch("aarch64") == "arm64"


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "Decoding seccomp profile failed: "),
    ("/etc/profile.json", "not its path"),
    ("[1, 2]", "Decoding seccomp profile failed: the profile must be a JSON object"),
    ('{"defaultAction": 1}', "Decoding seccomp profile failed: defaultAction must be a string"),
    ('{"defaultAction": "SCMP_ACT_NOPE"}', 'unknown action \'SCMP_ACT_NOPE\''),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {"a": 1}}', "syscalls must be a list"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}',
     "names must be a list of strings"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}', "names no syscall"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}',
     "use either 'name' or 'names'"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", '
     '"args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}', "args.index must be an unsigned integer"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", '
     '"args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}', "args.value must be an unsigned integer"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", '
     '"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}', "unknown argument operator"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": '
     '"SCMP_ARCH_X86_64"}]}', "'architectures' and 'archMap' were specified"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]}', "unknown architecture"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}', "unknown flag"),
    # A bad rule is refused even when its condition leaves it out for this container.
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_NOPE", '
     '"includes": {"caps": ["CAP_SYS_ADMIN"]}}]}', "unknown action"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", '
     '"includes": {"minKernel": "new"}}]}', "invalid kernel version"),
    ("[" * 100000, "Decoding seccomp profile failed: "),
])
def test_bad_profiles_are_refused_at_create(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        security.validate({"SecurityOpt": [f"seccomp={text}"]})
    assert message in str(caught.value)


def test_the_shipped_profile_is_valid_everywhere() -> None:
    text = seccomp.default_profile_text()
    seccomp.check_profile(text)
    for arch in ("amd64", "arm64", "s390x", "ppc64le", "riscv64"):
        assert seccomp.translate(json.loads(text), ALL_CAPABILITIES, arch=arch, kernel=(4, 4)) is not None


# --------------------------------------------------------------------------- --security-opt


def test_security_options_as_docker_reads_them() -> None:
    parse = security.parse_security_options
    assert parse([]) == security.SecurityOptions()
    assert parse(["no-new-privileges"]).no_new_privileges
    assert parse(["no-new-privileges=true"]).no_new_privileges and parse(["no-new-privileges:1"]).no_new_privileges
    assert not parse(["no-new-privileges", "no-new-privileges=false"]).no_new_privileges
    assert parse(["seccomp=unconfined"]).seccomp == "unconfined"
    assert parse(["seccomp:unconfined"]).seccomp == "unconfined"
    assert parse(['seccomp={"a": "b=c:d"}']).seccomp == '{"a": "b=c:d"}'
    assert parse(["apparmor=unconfined", "label=disable", "label:user:x", "disable"]).apparmor == "unconfined"


@pytest.mark.parametrize(("option", "message"), [
    ("bogus", 'invalid --security-opt 1: "bogus"'),
    ("foo=bar", 'invalid --security-opt 2: "foo=bar"'),
    ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
])
def test_unknown_security_options_are_refused(option: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        security.validate({"SecurityOpt": [option]})


def spec_for(host_config: dict[str, Any], caps: list[str] | None = None) -> dict[str, Any]:
    bounding = list(DEFAULT_CAPABILITIES) if caps is None else caps
    spec = {"process": {"args": ["sh"], "capabilities": {"bounding": bounding}}, "mounts": [], "linux": {}}
    return security.apply(spec, host_config, "/nonexistent")


def test_apply_sets_the_filter_from_the_options() -> None:
    assert spec_for({})["linux"]["seccomp"] == default()
    assert spec_for({"SecurityOpt": ["seccomp=builtin"]})["linux"]["seccomp"] == default()
    assert "seccomp" not in spec_for({"SecurityOpt": ["seccomp=unconfined"]})["linux"]
    assert "seccomp" not in spec_for({"Privileged": True}, list(ALL_CAPABILITIES))["linux"]
    custom = spec_for({"SecurityOpt": ['seccomp={"defaultAction": "SCMP_ACT_LOG"}']})["linux"]["seccomp"]
    assert custom == {"defaultAction": "SCMP_ACT_LOG", "syscalls": []}
    admin = spec_for({"CapAdd": ["SYS_ADMIN"]}, [*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])["linux"]["seccomp"]
    assert unconditional(admin, "unshare")
    spec = spec_for({"SecurityOpt": ["no-new-privileges"]})
    assert spec["process"]["noNewPrivileges"] is True and "apparmorProfile" not in spec["process"]


# --------------------------------------------------------------------------- AppArmor


def test_apparmor_refused_without_apparmor_and_unconfined_accepted(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent")
    with pytest.raises(InvalidParameter, match='AppArmor is not enabled on this host: cannot apply the profile "x"'):
        apparmor.check("x", absent, absent)
    apparmor.check("unconfined", absent, absent)
    assert apparmor.profile_for("x", False, absent, absent) == ""


def test_apparmor_profiles_when_the_host_has_apparmor(tmp_path: Path) -> None:
    enabled, profiles = tmp_path / "enabled", tmp_path / "profiles"
    enabled.write_text("Y\n")
    profiles.write_text("mine (enforce)\n/usr/bin/thing (complain)\n")
    apparmor.check("mine", str(enabled), str(profiles))
    with pytest.raises(InvalidParameter, match='AppArmor profile "other" is not loaded'):
        apparmor.check("other", str(enabled), str(profiles))
    assert apparmor.profile_for("mine", False, str(enabled), str(profiles)) == "mine"
    assert apparmor.profile_for("", True, str(enabled), str(profiles)) == "unconfined"
    assert apparmor.profile_for("", False, str(enabled), str(profiles)) == ""
    profiles.write_text("docker-default (enforce)\n")
    assert apparmor.profile_for("", False, str(enabled), str(profiles)) == "docker-default"


def test_apparmor_host_check_and_security_options_in_info() -> None:
    if apparmor.enabled():
        pytest.skip("this host has AppArmor")
    with pytest.raises(InvalidParameter, match="AppArmor is not enabled"):
        security.validate({"SecurityOpt": ["apparmor=docker-default"]})
    options = system.security_options()
    assert "name=seccomp,profile=default" in options and "name=apparmor" not in options


# --------------------------------------------------------------------------- the CLI


def test_the_cli_sends_a_profiles_content(tmp_path: Path) -> None:
    from moor.cli.createflags import security_opts

    profile = tmp_path / "profile.json"
    profile.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n')
    assert security_opts((f"seccomp={profile}", "seccomp=unconfined", "no-new-privileges")) == [
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}', "seccomp=unconfined", "no-new-privileges"]
    assert security_opts((f"seccomp:{profile}",)) == ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']
