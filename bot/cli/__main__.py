"""`python -m bot.cli`: the same as the `quoteqa` command."""

import sys

from bot.cli import main

sys.exit(main())
