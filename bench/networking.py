"""Networking benchmarks on the default bridge network, side by side with Docker when dockerd is installed.

* throughput of one TCP stream host -> container, ``BENCH_NET_MB`` MiB (1024 by default), best of
  ``BENCH_NET_REPEAT`` (3) transfers: through a port published on 127.0.0.1 (``-p 127.0.0.1:P:5001``)
  and straight to the container's address on the bridge. Two sinks: busybox
  ``nc -l -p 5001 > /dev/null`` in a loop in the container (small reads: it is often the bottleneck
  itself), and a Python sink reading 1 MiB at a time, run by the host in the container's network
  namespace (``nsenter -n``, port 5002), which shows what the path costs. The fast sink is also
  published on all addresses and reached through the bridge's gateway address, a host address that
  is not loopback: moor's kernel NAT (DNAT in the nat OUTPUT chain) serves that path; the private
  dockerd runs with ``--iptables=false``, so there docker-proxy does. A transfer is timed on the
  host from the first byte sent until the container's side has closed the connection (it saw the end
  of the stream);
* container start latency on the bridge: ``run -d ... sleep`` and ``run --rm ... true`` (medians of
  ``BENCH_RUNS``, 15), and ``run --rm --network none ... true`` for the cost of the network itself.

moor uses a private moord with a bridge of its own; Docker a private dockerd with its own bridge and
no iptables rules (so a port published on 127.0.0.1 goes through docker-proxy). Traffic goes only to
127.0.0.1 and to the benchmark's own containers.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from common import docker_cli, import_busybox, moor_cli, print_side_by_side, private_daemon

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
MEGABYTES = int(os.environ.get("BENCH_NET_MB", "1024"))
REPEAT = int(os.environ.get("BENCH_NET_REPEAT", "3"))
NC_PORT, FAST_PORT = 5001, 5002
CHUNK = bytes(1 << 20)
FAST_SINK = f"""
import socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", {FAST_PORT}))
server.listen()
while True:
    connection, _ = server.accept()
    while connection.recv(1 << 20):
        pass
    connection.close()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def transfer(host: str, port: int, megabytes: int) -> float:
    """Seconds to push ``megabytes`` MiB to ``host:port`` and see the far end close after our EOF."""
    with socket.create_connection((host, port), timeout=60) as connection:
        start = time.perf_counter()
        for _ in range(megabytes):
            connection.sendall(CHUNK)
        connection.shutdown(socket.SHUT_WR)
        while connection.recv(65536):
            pass
        return time.perf_counter() - start


def best_transfer(host: str, port: int) -> float:
    """Best of REPEAT full transfers, in MiB/s; a transfer that meets a listener not (yet) there is retried."""
    rates = []
    for _ in range(REPEAT):
        for attempt in range(50):
            try:
                transfer(host, port, 1)  # the sink is listening (again): the next accept is ours
                time.sleep(0.05)
                rates.append(MEGABYTES / transfer(host, port, MEGABYTES))
                break
            except OSError:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    return max(rates)


def published_path(port: int) -> str:
    """Who serves 127.0.0.1:``port`` on the host: the process listening there (a userland proxy), else kernel NAT."""
    listening = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    if "users:" in listening:
        return "userland proxy " + listening.split("users:", 1)[1].split(",", 1)[0].lstrip('(').strip('"')
    return "kernel NAT (nothing listens on the port)"


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def measure(cli: list[str], env: dict[str, str]) -> dict[str, float]:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, check=True)

    import_busybox(cli, env, "-c", 'CMD ["sh"]')
    results: dict[str, float] = {}
    ports = {NC_PORT: free_port(), FAST_PORT: free_port()}
    wide = free_port()  # FAST_PORT again, on every host address
    run("run", "-d", "--name", "sink", *[f"-p127.0.0.1:{host}:{inner}" for inner, host in ports.items()],
        f"-p{wide}:{FAST_PORT}", "busybox", "sh", "-c", f"while true; do nc -l -p {NC_PORT} > /dev/null; done")
    fast = None
    try:
        shown = json.loads(run("inspect", "sink").stdout)[0]
        address = shown["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        gateway = shown["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
        print(f"  {cli[0]}: 127.0.0.1:{ports[NC_PORT]} is served by {published_path(ports[NC_PORT])}")
        fast = subprocess.Popen(["nsenter", "-t", str(shown["State"]["Pid"]), "-n", sys.executable, "-c", FAST_SINK])
        for label, inner in (("nc sink", NC_PORT), ("fast sink", FAST_PORT)):
            published = best_transfer("127.0.0.1", ports[inner])
            direct = best_transfer(address, inner)
            results[f"{label}: via 127.0.0.1:port (MiB/s)"] = published
            results[f"{label}: to container address (MiB/s)"] = direct
            results[f"{label}: published/direct"] = published / direct
        through_gateway = best_transfer(gateway, wide)
        results["fast sink: via gateway address:port (MiB/s)"] = through_gateway
        results["fast sink: via gateway/direct"] = through_gateway / results["fast sink: to container address (MiB/s)"]
    finally:
        if fast is not None:
            fast.kill()
            fast.wait()
        subprocess.run([*cli, "rm", "-f", "sink"], env=env, capture_output=True)
    run("run", "--rm", "busybox", "true")  # warm caches
    names = [f"lat{i}" for i in range(RUNS)]
    samples = [timed([*cli, "run", "-d", "--name", name, "busybox", "sleep", "600"], env) for name in names]
    results["run -d on bridge (median, ms)"] = 1000 * statistics.median(samples)
    subprocess.run([*cli, "rm", "-f", *names], env=env, capture_output=True)
    results["run --rm true on bridge (median, ms)"] = 1000 * statistics.median(
        timed([*cli, "run", "--rm", "busybox", "true"], env) for _ in range(RUNS))
    results["run --rm true, --network none (median, ms)"] = 1000 * statistics.median(
        timed([*cli, "run", "--rm", "--network", "none", "busybox", "true"], env) for _ in range(RUNS))
    return results


def main() -> None:
    with private_daemon() as daemon:
        moor = measure(moor_cli(daemon), dict(os.environ))
    with docker_cli(bridge=True) as docker_side:
        docker = measure(*docker_side) if docker_side else None
    print_side_by_side("networking benchmark (default bridge network)", moor, docker, width=46, precision=2)


if __name__ == "__main__":
    main()
