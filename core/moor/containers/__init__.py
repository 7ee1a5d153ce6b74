"""Containers: the container record, OCI spec generation, the monitor process and its client."""
