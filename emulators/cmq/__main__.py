"""``python -m emulators.cmq``."""

import sys

from emulators.cmq.cli import main

sys.exit(main())
