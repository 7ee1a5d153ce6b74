"""The registry services: pull, push, login, search and distribution inspect, over :mod:`moor.registry`.

Modules (pull's part):

- :mod:`~moor.services.registry.pull`: ``PullService(images, settings, events, downloads_dir, metadata=None,
  client_factory=None).pull(name, tag, platform, auth, all_tags, emit)``. The plan's four arguments come
  first; ``metadata`` (give it the instance push gets) and ``client_factory`` (tests) are optional extras.
  As Docker's ``POST /images/create``, an empty ``tag`` with no tag or digest in ``name`` pulls every tag
  (``all_tags`` forces it). Cancellation: ``emit`` raising (the client went away) stops the pull; the
  exception is re-raised after the downloads stopped, with every verified or partial blob kept and the
  layers this pull applied taken back (they belong to no image). A download blocked in a network read
  notices the cancellation when the read returns (the client's read timeout bounds it).
- :mod:`~moor.services.registry.distribution`: ``DistributionService(settings, client_factory=None)
  .inspect(name, auth) -> dict`` for ``GET /distribution/{name}/json``.
- :mod:`~moor.services.registry.progress`: Docker's JSON progress messages and :func:`progress.encode`
  (Go's ``json.Marshal`` bytes plus ``\\r\\n``), shared with push.
- :mod:`~moor.services.registry.metadata`: ``DistributionMetadata(image_root)``: diff ID -> known blobs.
- :mod:`~moor.services.registry.downloads`: resumable verified blob downloads (``<data_root>/image/downloads``).
- :mod:`~moor.services.registry.clients`: the client protocol these services use and endpoint fallback.
"""
