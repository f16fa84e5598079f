"""The commands beyond the checking ones, by group; ``fbcli.cli`` registers them.

Like ``fbcli/cli.py``, these are the command line's own modules, the only ones
(with it) that import typer.  Each command parses its options, calls the core
once, renders, and exits with the code it says.
"""
