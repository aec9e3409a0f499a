import sys

from robotics_assets.cli import main

sys.exit(main())
