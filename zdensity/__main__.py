import sys

from zdensity.cli import main

sys.exit(main())
