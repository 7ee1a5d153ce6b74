"""``python -m moor_web_ui``: the same as the ``moor-web-ui`` console script."""

from moor_web_ui.cli import main

main()
