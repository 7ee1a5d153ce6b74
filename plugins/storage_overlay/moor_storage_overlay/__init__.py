"""moor's ``overlay`` storage driver: image layers as overlayfs lower directories."""
