"""The ``overlay`` storage driver (being written: see the images issue)."""
