"""``python -m pylts``: the same as the ``pylts`` command."""

import sys

from .cli import main

sys.exit(main())
