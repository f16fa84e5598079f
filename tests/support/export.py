"""A realistic Segment-style export, with the mistakes real exports have.

    python -m tests.support.export OUT.jsonl.gz [--events N] [--seed S]

The acceptance case ``tests/cases/realistic-export`` is this file at its
defaults; a test checks that it regenerates byte for byte.  What it holds, by
design (every count follows from the seed):

- a UTF-8 byte order mark, CRLF line endings, and a last line cut off mid-JSON
  (the export was interrupted);
- identify, ``Order Completed``, ``Signed Up``, page and other track events;
- purchases whose event name is a near miss (``Order completed``,
  ``order_completed``), amounts written as text with a currency sign
  (``"$1,234.00"``), a missing currency, a referral code under
  ``properties.referral_code`` (the default mapping reads ``referralCode``);
- birthdays written ``MM/DD/YYYY``, sign-ups without an email;
- events exported twice (the same ``messageId``), as retried deliveries are.

Deterministic: the same arguments give the same bytes (gzip without a time).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]

NAMES = ("Ada", "Grace", "Linus", "Barbara", "Edsger", "Alan", "Radia", "Frances")
NEAR_MISSES = ("Order completed", "order_completed", "Order Completed ")
OTHER_EVENTS = ("Product Viewed", "Cart Viewed", "Checkout Started")


class _Export:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # test data, not secrets
        self.seq = 0
        self.clock = datetime(2026, 10, 1, 8, 0, 0, tzinfo=UTC)

    def base(self, kind: str) -> JsonObject:
        self.seq += 1
        self.clock += timedelta(seconds=self.rng.randrange(30, 900))
        n = self.rng.randrange(5_000)
        name = NAMES[n % len(NAMES)]
        return {
            "type": kind,
            "messageId": f"{self.seq:06d}-{self.rng.getrandbits(32):08x}",
            "timestamp": self.clock.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "userId": f"cust-{n:04d}",
            "context": {"library": {"name": "analytics.js", "version": "5.2.0"}},
            "_who": (name, f"{name.lower()}.{n}@example.com"),
        }

    def identify(self) -> JsonObject:
        event = self.base("identify")
        name, email = event.pop("_who")
        year = self.rng.randrange(1960, 2005)
        month, day = self.rng.randrange(1, 13), self.rng.randrange(1, 29)
        birthday = f"{year}-{month:02d}-{day:02d}"
        if self.rng.random() < 0.08:
            birthday = f"{month:02d}/{day:02d}/{year}"
        event["traits"] = {"email": email, "firstName": name, "birthday": birthday}
        return event

    def purchase(self) -> JsonObject:
        event = self.base("track")
        name, email = event.pop("_who")
        roll = self.rng.random()
        event["event"] = self.rng.choice(NEAR_MISSES) if roll < 0.04 else "Order Completed"
        total = round(self.rng.uniform(10, 2_000), 2)
        properties: JsonObject = {
            "order_id": f"ORD-{self.seq:06d}",
            "total": total,
            "currency": "USD",
            "email": email,
            "firstName": name,
        }
        if self.rng.random() < 0.05:
            properties["total"] = f"${total:,.2f}"
        if self.rng.random() < 0.02:
            del properties["currency"]
        if self.rng.random() < 0.15:
            properties["referral_code"] = f"ref-{name.upper()}-{self.rng.randrange(100)}"
        event["properties"] = properties
        return event

    def signed_up(self) -> JsonObject:
        event = self.base("track")
        name, email = event.pop("_who")
        event["event"] = "Signed Up"
        properties: JsonObject = {"email": email, "firstName": name}
        if self.rng.random() < 0.05:
            del properties["email"]
        event["properties"] = properties
        return event

    def other(self) -> JsonObject:
        if self.rng.random() < 0.5:
            event = self.base("page")
            event["name"] = "Checkout"
        else:
            event = self.base("track")
            event["event"] = self.rng.choice(OTHER_EVENTS)
        event.pop("_who")
        return event

    def events(self, count: int) -> list[JsonObject]:
        makers = (self.identify, self.purchase, self.purchase, self.signed_up, self.other)
        made: list[JsonObject] = []
        while len(made) < count:
            event = self.rng.choice(makers)()
            made.append(event)
            if self.rng.random() < 0.01 and len(made) < count:
                made.append(event)  # delivered twice: the same messageId
        return made


def export_bytes(*, events: int = 2_000, seed: int = 13) -> bytes:
    """The export, uncompressed: BOM, CRLF lines, the last line cut off."""
    lines = [json.dumps(event, separators=(",", ":")) for event in _Export(seed).events(events)]
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    return "\ufeff".encode() + "".join(line + "\r\n" for line in lines).encode()


def write_export(path: Path, *, events: int = 2_000, seed: int = 13) -> None:
    """Write the export gzipped, the same bytes every time."""
    path.write_bytes(gzip.compress(export_bytes(events=events, seed=seed), mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    write_export(args.out, events=args.events, seed=args.seed)


if __name__ == "__main__":
    main()
