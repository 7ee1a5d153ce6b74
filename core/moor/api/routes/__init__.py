"""Route modules, one per API area; each exposes ``build(engine) -> Router``.

A new area's module goes in this package and its name in :data:`ROUTE_MODULES`;
:func:`build_router` puts every module's routes in one router for moord.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api.router import Router
from moor.api.routes import (
    archive,
    attach_ws,
    build,
    commit,
    container_resources,
    containers,
    events,
    experimental,
    images,
    networks,
    plugins,
    registry,
    session,
    swarm,
    system,
    volumes,
)

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

#: in the order their routes are tried (a HEAD route must come before a GET one of the same path)
ROUTE_MODULES = (system, images, registry, build, containers, commit, networks, volumes, container_resources,
                 archive, events, swarm, plugins, session, attach_ws,
                 experimental)


def build_router(engine: Engine) -> Router:
    """Every route module's routes in one router."""
    router = Router()
    for module in ROUTE_MODULES:
        router.include(module.build(engine))
    return router
