import sys

from infobench.cli import main

sys.exit(main())
