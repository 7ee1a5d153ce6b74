"""moor's web interface: a small aiohttp server that serves the page and talks to moord over its Unix socket.

Layout: :mod:`settings` (what ``serve`` was given), :mod:`app` (``make_app``: routes, middlewares, static files),
:mod:`auth` (accounts, sessions, CSRF, rate limit), :mod:`moord` (the async client of moord's API),
:mod:`proxy` (``/api/docker/...``), :mod:`streams`, :mod:`console`, :mod:`actions` (live streams),
:mod:`stacks` (compose stacks kept as files), :mod:`cli` (``moor-web-ui serve`` and ``passwd``),
:mod:`frontend` (how moord starts it).
"""

__version__ = "0.1.0"
