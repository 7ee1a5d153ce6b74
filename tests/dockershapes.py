"""Shapes read off Docker Engine 20.10 (a private dockerd), shared by the unit and end-to-end tests that compare
moord's answers with them."""

from __future__ import annotations

#: the keys of the HostConfig Docker 20.10's inspect shows for a sparse create body
DOCKER_HOST_CONFIG_KEYS = frozenset({
    "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy", "AutoRemove",
    "VolumeDriver", "VolumesFrom", "CapAdd", "CapDrop", "CgroupnsMode", "Dns", "DnsOptions", "DnsSearch",
    "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Links", "OomScoreAdj", "PidMode", "Privileged",
    "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt", "UTSMode", "UsernsMode", "ShmSize", "Runtime",
    "ConsoleSize", "Isolation", "CpuShares", "Memory", "NanoCpus", "CgroupParent", "BlkioWeight",
    "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus",
    "CpusetMems", "Devices", "DeviceCgroupRules", "DeviceRequests", "KernelMemory", "KernelMemoryTCP",
    "MemoryReservation", "MemorySwap", "MemorySwappiness", "OomKillDisable", "PidsLimit", "Ulimits", "CpuCount",
    "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth", "MaskedPaths", "ReadonlyPaths",
})
