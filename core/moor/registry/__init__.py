"""The distribution-protocol client: talks to registries (Docker Hub, distribution, quay, ...).

No engine imports: settings, credentials, endpoints, manifests and the HTTP client only.
The services in ``moor.services.registry`` build pull, push, login and search on top of it.
"""
