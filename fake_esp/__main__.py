"""python -m fake_esp --port 8765: serve the three fake APIs and print the AW_ settings."""

import sys

from fake_esp.server import main

sys.exit(main())
