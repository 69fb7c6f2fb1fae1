"""``python -m floodwall``."""

import sys

from floodwall.cli.main import main

sys.exit(main())
