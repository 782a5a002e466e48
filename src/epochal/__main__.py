"""``python -m epochal``: the same command line as the installed ``epochal`` script."""
from epochal.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
