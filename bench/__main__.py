"""`python -m bench`: run the benchmarks, print the table, write the JSON."""

from bench.run import main

raise SystemExit(main())
