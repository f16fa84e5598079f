"""``python -m fbcli``."""

from fbcli.cli import main

if __name__ == "__main__":
    main()
