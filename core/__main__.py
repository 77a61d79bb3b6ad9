"""``python -m landcover_mlp.core``: the command line."""

import sys

from .cli import main

sys.exit(main())
