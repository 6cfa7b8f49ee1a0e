"""python3 -m bench [--quick] [--only NAME,...] [--out DIR] -- see bench/suite.py and docs/BENCHMARKS.md."""

import sys

from bench.suite import main

sys.exit(main())
