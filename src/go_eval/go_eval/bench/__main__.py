"""``python -m go_eval.bench NAME [--quick]``: run one benchmark, print its figures as JSON."""

import sys

from go_eval.bench import main

sys.exit(main())
