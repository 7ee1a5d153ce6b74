"""Route modules, one per API area; each exposes ``build(engine) -> Router``."""
