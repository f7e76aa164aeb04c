"""``python -m gdfnn`` (and ``torchrun -m gdfnn``) runs the command line."""

import sys

from gdfnn.cli import main

sys.exit(main())
