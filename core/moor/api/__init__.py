"""The API layer: translates the Docker Engine API (HTTP) to engine service calls and back."""
