"""moord: the daemon that serves the Docker Engine API for moor."""
