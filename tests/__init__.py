"""fbcli's tests, by the layer they check.

- ``unit/``: one module of the core at a time (a real server on 127.0.0.1 where
  one speaks HTTP: the emulator, or a small stdlib server).
- ``cli/``: the commands as users run them (``CliRunner``), the acceptance case
  folders (``cases/``, ``mapping_cases/``), the tables in a real terminal
  (``golden/``, tmux).
- ``property/``: hypothesis properties (``test_fuzz_*``), and the differential
  test against the destination's own published code (``oracle/``).
- ``process/``: several real processes: concurrent replays, signals, kills,
  disks that fill, hostile servers, the security scan of every file and output.

Shared helpers live in ``support/`` (and ``oracle/``); test modules import
from there, never from one another, and use only the emulator's public names.
``conftest.py`` holds the fixtures and the hypothesis profiles.
"""
