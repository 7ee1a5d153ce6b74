"""Run every benchmark under bench/ in turn."""

from __future__ import annotations

import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = ["cli_startup.py", "daemon_startup.py", "images.py", "containers.py", "container_files.py", "dns.py",
              "networking.py", "volumes.py", "registry.py", "build.py", "compose.py"]

if __name__ == "__main__":
    sys.path.insert(0, HERE)
    for name in BENCHMARKS:
        print(f"== {name}")
        runpy.run_path(os.path.join(HERE, name), run_name="__main__")
