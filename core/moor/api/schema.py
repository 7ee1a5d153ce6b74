"""The Go types of the Engine API's request bodies (API 1.41), as Docker 20.10 declares them.

Each table names a struct's JSON fields and their Go types (:mod:`moor.api.validate` checks a body
against them and answers Go's error). The names in the types are what Go prints in its messages,
checked against a real dockerd 20.10 (``tests/unit/test_request_validation.py`` records them).
"""

from __future__ import annotations

from moor.api.validate import (
    Bool,
    Empty,
    GoType,
    Int,
    List,
    Map,
    Str,
    StrSlice,
    Struct,
    embed,
)

STRING = Str()
STRINGS = List(STRING)
STRING_MAP = Map(STRING)
BOOL = Bool()
INT = Int("int")
INT64 = Int("int64")
DURATION = Int("int64", go="time.Duration")

# --------------------------------------------------------------------------- container.Config

HEALTH_CONFIG = Struct("HealthConfig", {
    "Test": STRINGS, "Interval": DURATION, "Timeout": DURATION, "StartPeriod": DURATION, "Retries": INT,
    "StartInterval": DURATION,  # API 1.44
}, go="container.HealthConfig")

CONFIG_FIELDS: dict[str, GoType] = {
    "Hostname": STRING, "Domainname": STRING, "User": STRING, "AttachStdin": BOOL, "AttachStdout": BOOL,
    "AttachStderr": BOOL, "ExposedPorts": Map(Empty(), go="nat.PortSet"), "Tty": BOOL, "OpenStdin": BOOL,
    "StdinOnce": BOOL, "Env": STRINGS, "Cmd": StrSlice(), "Healthcheck": HEALTH_CONFIG, "ArgsEscaped": BOOL,
    "Image": STRING, "Volumes": Map(Empty()), "WorkingDir": STRING, "Entrypoint": StrSlice(),
    "NetworkDisabled": BOOL, "MacAddress": STRING, "OnBuild": STRINGS, "Labels": STRING_MAP,
    "StopSignal": STRING, "StopTimeout": INT, "Shell": StrSlice(),
}  # fmt: skip

# --------------------------------------------------------------------------- container.HostConfig

WEIGHT_DEVICE = Struct("WeightDevice", {"Path": STRING, "Weight": Int("uint16")}, go="blkiodev.WeightDevice")
THROTTLE_DEVICE = Struct("ThrottleDevice", {"Path": STRING, "Rate": Int("uint64")}, go="blkiodev.ThrottleDevice")
DEVICE_MAPPING = Struct("DeviceMapping", {"PathOnHost": STRING, "PathInContainer": STRING,
                                          "CgroupPermissions": STRING}, go="container.DeviceMapping")
DEVICE_REQUEST = Struct("DeviceRequest", {
    "Driver": STRING, "Count": INT, "DeviceIDs": STRINGS, "Capabilities": List(STRINGS, go="[][]string"),
    "Options": STRING_MAP,
}, go="container.DeviceRequest")
ULIMIT = Struct("Ulimit", {"Name": STRING, "Hard": INT64, "Soft": INT64}, go="units.Ulimit")

RESOURCES_FIELDS: dict[str, GoType] = {
    "CpuShares": INT64, "Memory": INT64, "NanoCpus": INT64, "CgroupParent": STRING, "BlkioWeight": Int("uint16"),
    "BlkioWeightDevice": List(WEIGHT_DEVICE, go="[]*blkiodev.WeightDevice"),
    "BlkioDeviceReadBps": List(THROTTLE_DEVICE, go="[]*blkiodev.ThrottleDevice"),
    "BlkioDeviceWriteBps": List(THROTTLE_DEVICE, go="[]*blkiodev.ThrottleDevice"),
    "BlkioDeviceReadIOps": List(THROTTLE_DEVICE, go="[]*blkiodev.ThrottleDevice"),
    "BlkioDeviceWriteIOps": List(THROTTLE_DEVICE, go="[]*blkiodev.ThrottleDevice"),
    "CpuPeriod": INT64, "CpuQuota": INT64, "CpuRealtimePeriod": INT64, "CpuRealtimeRuntime": INT64,
    "CpusetCpus": STRING, "CpusetMems": STRING, "Devices": List(DEVICE_MAPPING, go="[]container.DeviceMapping"),
    "DeviceCgroupRules": STRINGS, "DeviceRequests": List(DEVICE_REQUEST, go="[]container.DeviceRequest"),
    "KernelMemory": INT64, "KernelMemoryTCP": INT64, "MemoryReservation": INT64, "MemorySwap": INT64,
    "MemorySwappiness": INT64, "OomKillDisable": BOOL, "PidsLimit": INT64,
    "Ulimits": List(ULIMIT, go="[]*units.Ulimit"), "CpuCount": INT64, "CpuPercent": INT64,
    "IOMaximumIOps": Int("uint64"), "IOMaximumBandwidth": Int("uint64"),
}  # fmt: skip

RESTART_POLICY = Struct("RestartPolicy", {"Name": STRING, "MaximumRetryCount": INT}, go="container.RestartPolicy")
LOG_CONFIG = Struct("LogConfig", {"Type": STRING, "Config": STRING_MAP}, go="container.LogConfig")
PORT_BINDING = Struct("PortBinding", {"HostIp": STRING, "HostPort": STRING}, go="nat.PortBinding")

MOUNT = Struct("Mount", {
    "Type": Str("mount.Type"), "Source": STRING, "Target": STRING, "ReadOnly": BOOL,
    "Consistency": Str("mount.Consistency"),
    "BindOptions": Struct("BindOptions", {"Propagation": Str("mount.Propagation"), "NonRecursive": BOOL,
                                          "CreateMountpoint": BOOL, "ReadOnlyNonRecursive": BOOL,
                                          "ReadOnlyForceRecursive": BOOL},  # API 1.42, 1.44
                          go="mount.BindOptions"),
    "VolumeOptions": Struct("VolumeOptions", {
        "NoCopy": BOOL, "Labels": STRING_MAP,
        "DriverConfig": Struct("Driver", {"Name": STRING, "Options": STRING_MAP}, go="mount.Driver"),
    }, go="mount.VolumeOptions"),
    "TmpfsOptions": Struct("TmpfsOptions", {"SizeBytes": INT64, "Mode": Int("uint32", go="fs.FileMode")},
                           go="mount.TmpfsOptions"),
}, go="mount.Mount")  # fmt: skip

HOST_CONFIG_FIELDS: dict[str, GoType] = embed(RESOURCES_FIELDS, {
    "Binds": STRINGS, "ContainerIDFile": STRING, "LogConfig": LOG_CONFIG, "NetworkMode": Str("container.NetworkMode"),
    "PortBindings": Map(List(PORT_BINDING, go="[]nat.PortBinding"), go="nat.PortMap"),
    "RestartPolicy": RESTART_POLICY, "AutoRemove": BOOL, "VolumeDriver": STRING, "VolumesFrom": STRINGS,
    "CapAdd": StrSlice(), "CapDrop": StrSlice(), "CgroupnsMode": Str("container.CgroupnsMode"), "Dns": STRINGS,
    "DnsOptions": STRINGS, "DnsSearch": STRINGS, "ExtraHosts": STRINGS, "GroupAdd": STRINGS,
    "IpcMode": Str("container.IpcMode"), "Cgroup": Str("container.CgroupSpec"), "Links": STRINGS,
    "OomScoreAdj": INT, "PidMode": Str("container.PidMode"), "Privileged": BOOL, "PublishAllPorts": BOOL,
    "ReadonlyRootfs": BOOL, "SecurityOpt": STRINGS, "StorageOpt": STRING_MAP, "Tmpfs": STRING_MAP,
    "UTSMode": Str("container.UTSMode"), "UsernsMode": Str("container.UsernsMode"), "ShmSize": INT64,
    "Sysctls": STRING_MAP, "Runtime": STRING, "ConsoleSize": List(Int("uint"), length=2),
    "Annotations": STRING_MAP,  # API 1.43
    "Isolation": Str("container.Isolation"), "Mounts": List(MOUNT, go="[]mount.Mount"), "MaskedPaths": STRINGS,
    "ReadonlyPaths": STRINGS, "Init": BOOL,
})  # fmt: skip
HOST_CONFIG = Struct("HostConfig", HOST_CONFIG_FIELDS, go="container.HostConfig")

# --------------------------------------------------------------------------- network.EndpointSettings

ENDPOINT_IPAM_CONFIG = Struct("EndpointIPAMConfig", {"IPv4Address": STRING, "IPv6Address": STRING,
                                                     "LinkLocalIPs": STRINGS}, go="network.EndpointIPAMConfig")
ENDPOINT_SETTINGS = Struct("EndpointSettings", {
    "IPAMConfig": ENDPOINT_IPAM_CONFIG, "Links": STRINGS, "Aliases": STRINGS, "NetworkID": STRING,
    "EndpointID": STRING, "Gateway": STRING, "IPAddress": STRING, "IPPrefixLen": INT, "IPv6Gateway": STRING,
    "GlobalIPv6Address": STRING, "GlobalIPv6PrefixLen": INT, "MacAddress": STRING, "DriverOpts": STRING_MAP,
}, go="network.EndpointSettings")  # fmt: skip
NETWORKING_CONFIG = Struct("NetworkingConfig", {
    "EndpointsConfig": Map(ENDPOINT_SETTINGS, go="map[string]*network.EndpointSettings"),
}, go="network.NetworkingConfig")

# --------------------------------------------------------------------------- request bodies

#: ``POST /containers/create`` (and ``POST /commit``'s container config): Config with HostConfig beside it.
CONTAINER_CREATE = Struct("ContainerConfigWrapper", embed(
    CONFIG_FIELDS, HostConfig=HOST_CONFIG, NetworkingConfig=NETWORKING_CONFIG,
), go="runconfig.ContainerConfigWrapper")

#: ``POST /containers/{id}/update``
CONTAINER_UPDATE = Struct("UpdateConfig", embed(RESOURCES_FIELDS, RestartPolicy=RESTART_POLICY),
                          go="container.UpdateConfig")

#: ``POST /containers/{id}/exec``
EXEC_CONFIG = Struct("ExecConfig", {
    "User": STRING, "Privileged": BOOL, "Tty": BOOL, "ConsoleSize": List(Int("uint"), length=2),
    "AttachStdin": BOOL, "AttachStderr": BOOL, "AttachStdout": BOOL, "Detach": BOOL, "DetachKeys": STRING,
    "Env": STRINGS, "WorkingDir": STRING, "Cmd": STRINGS,
}, go="types.ExecConfig")  # fmt: skip

#: ``POST /exec/{id}/start``
EXEC_START = Struct("ExecStartCheck", {"Detach": BOOL, "Tty": BOOL, "ConsoleSize": List(Int("uint"), length=2)},
                    go="types.ExecStartCheck")

COPY_CONFIG = Struct("CopyConfig", {"Resource": STRING}, go="types.CopyConfig")  # POST /containers/{id}/copy

IPAM_CONFIG = Struct("IPAMConfig", {"Subnet": STRING, "IPRange": STRING, "Gateway": STRING,
                                    "AuxiliaryAddresses": STRING_MAP}, go="network.IPAMConfig")
IPAM = Struct("IPAM", {"Driver": STRING, "Options": STRING_MAP, "Config": List(IPAM_CONFIG, go="[]network.IPAMConfig")},
              go="network.IPAM")

#: ``POST /networks/create``
NETWORK_CREATE = Struct("NetworkCreateRequest", {
    "Name": STRING, "CheckDuplicate": BOOL, "Driver": STRING, "Scope": STRING, "EnableIPv6": BOOL, "IPAM": IPAM,
    "Internal": BOOL, "Attachable": BOOL, "Ingress": BOOL, "ConfigOnly": BOOL,
    "ConfigFrom": Struct("ConfigReference", {"Network": STRING}, go="network.ConfigReference"),
    "Options": STRING_MAP, "Labels": STRING_MAP,
}, go="types.NetworkCreateRequest")  # fmt: skip

#: ``POST /networks/{id}/connect``
NETWORK_CONNECT = Struct("NetworkConnect", {"Container": STRING, "EndpointConfig": ENDPOINT_SETTINGS},
                         go="types.NetworkConnect")

#: ``POST /networks/{id}/disconnect``
NETWORK_DISCONNECT = Struct("NetworkDisconnect", {"Container": STRING, "Force": BOOL}, go="types.NetworkDisconnect")

#: ``POST /volumes/create``
VOLUME_CREATE = Struct("VolumeCreateBody", {"Driver": STRING, "DriverOpts": STRING_MAP, "Labels": STRING_MAP,
                                            "Name": STRING}, go="volume.VolumeCreateBody")


#: ``POST /auth``, and the ``X-Registry-Auth`` header's JSON (and ``push``'s body when that header is missing)
AUTH_CONFIG = Struct("AuthConfig", {
    "username": STRING, "password": STRING, "auth": STRING, "email": STRING, "serveraddress": STRING,
    "identitytoken": STRING, "registrytoken": STRING,
}, go="types.AuthConfig")  # fmt: skip
