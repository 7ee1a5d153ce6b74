"""The log drivers that ship with the core: ``json-file`` and ``none``.

They are registered through the ``moor.log_drivers`` entry points in the core's
pyproject.toml, exactly like a third-party driver.
"""
