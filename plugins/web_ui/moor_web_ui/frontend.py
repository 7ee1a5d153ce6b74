"""How moord starts the UI: the entry point ``web_ui`` of the group ``moor.frontends``.

moord calls :func:`command` with its ``[web_ui]`` table and its own socket, and supervises the process it names.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from moor_web_ui.settings import DEFAULT_DATA_DIR, DEFAULT_LISTEN


def command(options: Mapping[str, Any], host: str) -> list[str]:
    """The argv of ``moor-web-ui serve`` for moord's ``[web_ui]`` options (listen, tls_cert, tls_key, data_dir)
    and moord's socket ``host`` (``unix:///path``)."""
    argv = [sys.executable, "-m", "moor_web_ui", "serve", "--exit-with-stdin", "--host", host,
            "--listen", str(options.get("listen") or DEFAULT_LISTEN),
            "--data-dir", str(options.get("data_dir") or DEFAULT_DATA_DIR)]
    if options.get("tls_cert"):
        argv += ["--tls-cert", str(options["tls_cert"])]
    if options.get("tls_key"):
        argv += ["--tls-key", str(options["tls_key"])]
    return argv
