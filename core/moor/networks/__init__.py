"""Networks as moor keeps them.

:mod:`moor.networks.model` holds the typed records (a network, its IPAM pools,
the endpoints of the containers on it, and moor's own bookkeeping);
:mod:`moor.networks.store` reads and writes them on disk;
:mod:`moor.networks.views` makes Docker's JSON of them, at the API edge only.
The service that owns them is :class:`moor.services.networks.NetworkService`.
"""
