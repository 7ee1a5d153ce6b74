"""Compose files to a Project: YAML, env files, interpolation, the schema, merging, extends, include, profiles,
normalisation (docs/compose.md)."""
