"""`python -m batchlake` runs the command line."""

from batchlake.cli import main

main()
