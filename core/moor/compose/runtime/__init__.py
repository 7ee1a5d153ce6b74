"""Compose at run time: observed state by label, the dependency graph, and the commands over the Docker API."""
