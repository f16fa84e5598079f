"""The docs' generator as a module: ``docs.generate`` (for its test and for mypy)."""
