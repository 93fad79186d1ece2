"""`python -m tools.scenarios OUT_DIR [--seed N] [--bank main|variant] [--table]` (see `tools.scenarios.cli`)."""

import sys

from tools.scenarios.cli import main

sys.exit(main())
