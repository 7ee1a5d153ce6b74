"""Compose: multi-container applications from compose files, as ``docker compose`` v2 runs them.

Client side, like the docker CLI's compose plugin: it reads the files (``loader``), turns services into
Docker API requests (``convert``) and drives moord (or any Docker Engine) through the API. No engine
imports: the web UI and the CLI both use it.
"""
