"""moor's network drivers: ``bridge`` (Linux bridge + veth), ``host`` and ``none``."""
