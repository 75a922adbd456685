"""`python -m arena`: arena/cli.py's commands (check a pool file, print or export the leaderboard)."""
import sys

from arena.cli import main

if __name__ == "__main__":
    sys.exit(main())
