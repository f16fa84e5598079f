"""The ceiling: read and parse every line, nothing else, with the fastest JSON parser installed.

    python bench/ceiling.py FILE.jsonl[.gz]

``orjson.loads`` when orjson is importable, else the standard library's
``json.loads``.  No validation, no mapping: no tool that parses each event can
be faster than this on the same machine.  Prints one JSON object: ``parser``,
``lines``, ``objects``, ``malformed``.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def fastest_loads() -> tuple[str, Callable[[bytes], Any]]:
    """``("orjson", orjson.loads)`` when installed, else ``("json", json.loads)``."""
    try:
        import orjson  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return "json", json.loads
    loads: Callable[[bytes], Any] = orjson.loads
    return "orjson", loads


def run(path: Path) -> dict[str, Any]:
    """Parse every line of ``path``; the counts."""
    parser, loads = fastest_loads()
    lines = objects = malformed = 0
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as stream:
        for line in stream:
            lines += 1
            if not line.strip():
                continue
            try:
                value = loads(line)
            except ValueError:
                malformed += 1
                continue
            if isinstance(value, dict):
                objects += 1
            else:
                malformed += 1
    return {"parser": parser, "lines": lines, "objects": objects, "malformed": malformed}


def main(argv: list[str]) -> int:
    """``ceiling.py FILE``: print the counts as one JSON object."""
    if len(argv) != 1:
        print("usage: ceiling.py FILE.jsonl[.gz]", file=sys.stderr)
        return 2
    print(json.dumps(run(Path(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
