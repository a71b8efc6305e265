"""``python -m consumer`` is the same as the ``media-bridge`` command."""

from consumer.cli import main

raise SystemExit(main())
