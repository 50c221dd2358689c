import sys

from backtests.cli import main

sys.exit(main())
