"""``python -m moor.monitor``: run one container process's monitor."""

from __future__ import annotations

import sys

from moor.monitor.main import main

sys.exit(main())
