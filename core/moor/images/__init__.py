"""Images: references, the content-addressed image store, archives (load/save) and import."""
