"""`python -m stsd.client`: the same as the `stsd` command."""

import sys

from stsd.client.main import main

sys.exit(main())
