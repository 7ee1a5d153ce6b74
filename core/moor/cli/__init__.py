"""The ``moor`` CLI: Docker's commands and flags over the moor daemon's API.

Keep this package light: it must import neither pluggy, stevedore nor pyroute2.
"""

from moor.cli import deferred

deferred.install()  # before any module of the CLI imports click
