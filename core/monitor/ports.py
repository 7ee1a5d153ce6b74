"""Published ports: the monitor forwards host TCP ports to its container (Docker's userland proxy).

The listener lives as long as the container: it is the monitor's, so it survives moord restarts and
goes away with the container. It serves the host itself (127.0.0.1) as well as other hosts.
"""

from __future__ import annotations

import socket
import threading


class PortProxy:
    """Accepts on ``host_ip:host_port`` and relays each connection to ``target:target_port``."""

    def __init__(self, host_ip: str, host_port: int, target: str, target_port: int) -> None:
        self.target = (target, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.listener.bind((host_ip or "0.0.0.0", host_port))
        except OSError:
            self.listener.close()
            raise OSError(f"Bind for {host_ip or '0.0.0.0'}:{host_port} failed: port is already allocated") from None
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass
