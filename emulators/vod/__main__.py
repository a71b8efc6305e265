"""``python -m emulators.vod``."""

import sys

from emulators.vod.cli import main

sys.exit(main())
