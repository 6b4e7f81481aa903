"""``python -m stsd.emulator``: see ``stsd.emulator.cli``."""

import sys

from stsd.emulator.cli import run

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
