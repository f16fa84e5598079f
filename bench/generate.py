"""Generate realistic Segment-style events for the benchmarks, deterministically.

    python bench/generate.py OUT.jsonl[.gz] --events N [--seed S] [--invalid-rate R] [--valid-only]

The mix (by weight): ``identify`` with traits, an address and
``friendbuyAttributes``; ``Order Completed`` with 0-5 products (extra keys such
as ``product_id`` and ``brand`` included, as Segment sends them), coupons and
gift-card codes; ``Signed Up``; the custom events ``Download`` and ``Video
Played``; page views; and track events no default subscription matches.  Most
events carry ``context`` (``ip``, ``userAgent``, ``page``).  About
``--invalid-rate`` (default 10 %) of the lines are broken in assorted ways: a
purchase without ``currency``, a non-numeric ``total``, a birthday written
``MM/DD/YYYY``, a product ``quantity`` of ``"1.5"``, a sign-up without
``email``, a truncated JSON line, a line holding an array.

``--valid-only`` writes only events that match a default subscription and are
valid (for replay runs: each event is exactly one call).  The output is the
same for the same arguments, and events are streamed to the file one at a time.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]

FIRST_NAMES = (
    "Ada", "Grace", "Linus", "Barbara", "Edsger", "Alan", "Katherine", "Margaret",
    "Donald", "Frances", "John", "Radia", "Ken", "Shafi", "Tim", "Sophie",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "Hopper", "Torvalds", "Liskov", "Dijkstra", "Turing", "Johnson",
    "Hamilton", "Knuth", "Allen", "McCarthy", "Perlman", "Thompson", "Goldwasser",
)  # fmt: skip
CITIES = (
    ("London", "GB", "NW1 6XE", "England"),
    ("Paris", "FR", "75004", "Ile-de-France"),
    ("Austin", "US", "78701", "TX"),
    ("Berlin", "DE", "10115", "Berlin"),
    ("Toronto", "CA", "M5V 2T6", "ON"),
)
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)
PAGES = (
    ("https://shop.example.com/checkout/complete", "Thank you"),
    ("https://shop.example.com/", "Example Shop"),
    ("https://shop.example.com/pricing", "Pricing"),
    ("https://shop.example.com/account/new", "Create your account"),
)
PRODUCTS = (
    ("TEE-BLK-M", "Logo tee", 29.95, "Apparel"),
    ("MUG-01", "Mug", 14.0, "Kitchen"),
    ("SOCK-3", "Socks, 3 pairs", 10.0, "Apparel"),
    ("CAP-RED", "Cap", 19.5, "Apparel"),
    ("BOOK-PY", "Python pocket guide", 24.99, "Books"),
    ("BAG-TOTE", "Tote bag", 12.0, "Accessories"),
)
CURRENCIES = ("USD", "EUR", "GBP", "CAD")
COUPONS = ("SPRING15", "WELCOME10", "FREESHIP", "VIP20")
UNMATCHED_EVENTS = ("Product Viewed", "Cart Viewed", "Order Placed", "Checkout Started")

EventMaker = Callable[["Generator", bool], JsonObject | str]


class Generator:
    """Makes one event at a time from a seeded ``random.Random``."""

    def __init__(self, seed: int, *, invalid_rate: float, valid_only: bool) -> None:
        self.rng = random.Random(seed)  # benchmark data, not secrets
        self.invalid_rate = 0.0 if valid_only else invalid_rate
        self.valid_only = valid_only
        self.seq = 0
        self.clock = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)

    # -- shared parts ---------------------------------------------------------------------

    def _customer(self) -> tuple[str, str, str, str]:
        n = self.rng.randrange(50_000)
        first = FIRST_NAMES[n % len(FIRST_NAMES)]
        last = LAST_NAMES[n % len(LAST_NAMES)]
        email = f"{first.lower()}.{last.lower()}{n}@example.com"
        return f"cust-{n:05d}", email, first, last

    def _base(self, kind: str) -> JsonObject:
        self.seq += 1
        self.clock += timedelta(milliseconds=self.rng.randrange(1, 4000))
        event: JsonObject = {
            "type": kind,
            "messageId": f"msg-{self.seq:08d}-{self.rng.getrandbits(32):08x}",
            "timestamp": self.clock.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        if self.rng.random() < 0.6:
            event["anonymousId"] = f"anon-{self.rng.getrandbits(48):012x}"
        return event

    def _context(self, event: JsonObject) -> None:
        if self.rng.random() < 0.8:
            url, title = self.rng.choice(PAGES)
            event["context"] = {
                "ip": f"203.0.113.{self.rng.randrange(1, 255)}",
                "userAgent": self.rng.choice(USER_AGENTS),
                "library": {"name": "analytics.js", "version": "5.2.0"},
                "page": {"url": url, "title": title, "path": url.split(".com", 1)[1]},
            }

    # -- the event kinds ------------------------------------------------------------------

    def identify(self, invalid: bool) -> JsonObject:
        event = self._base("identify")
        customer_id, email, first, last = self._customer()
        event["userId"] = customer_id
        city, country, postal, state = self.rng.choice(CITIES)
        year = self.rng.randrange(1950, 2006)
        traits: JsonObject = {
            "email": email,
            "firstName": first,
            "lastName": last,
            "age": 2026 - year,
            "birthday": f"{year}-{self.rng.randrange(1, 13):02d}-{self.rng.randrange(1, 29):02d}",
            "address": {"city": city, "country": country, "postalCode": postal, "state": state},
            "loyaltyStatus": self.rng.choice(("in", "out")),
            "customerSince": "2024-01-15T10:00:00Z",
            "language": "en",
        }
        if self.rng.random() < 0.4:
            traits["friendbuyAttributes"] = {"gender": "female", "tier": "gold"}
        if invalid:
            traits["birthday"] = f"12/{self.rng.randrange(10, 29)}/{year}"
        event["traits"] = traits
        self._context(event)
        return event

    def order_completed(self, invalid: bool) -> JsonObject:
        event = self._base("track")
        event["event"] = "Order Completed"
        customer_id, email, first, _ = self._customer()
        event["userId"] = customer_id
        products = []
        total = 0.0
        for _ in range(self.rng.randrange(6)):
            sku, name, price, category = self.rng.choice(PRODUCTS)
            quantity = self.rng.randrange(1, 4)
            total += price * quantity
            products.append(
                {
                    "product_id": f"p-{sku.lower()}",
                    "sku": sku,
                    "name": name,
                    "price": price,
                    "quantity": quantity,
                    "category": category,
                    "brand": "Example",
                    "url": f"https://shop.example.com/p/{sku.lower()}",
                    "image_url": f"https://cdn.example.com/{sku.lower()}.png",
                }
            )
        properties: JsonObject = {
            "order_id": f"ORD-{self.seq:08d}",
            "total": round(total or 9.99, 2),
            "revenue": round((total or 9.99) * 0.9, 2),
            "currency": self.rng.choice(CURRENCIES),
            "email": email,
            "firstName": first,
            "isNewCustomer": self.rng.random() < 0.3,
            "products": products,
        }
        if self.rng.random() < 0.3:
            properties["coupon"] = self.rng.choice(COUPONS)
        if self.rng.random() < 0.1:
            properties["giftCardCodes"] = [f"GC-{self.rng.randrange(10_000):04d}"]
        if self.rng.random() < 0.1:
            properties["friendbuyAttributes"] = {"promotion": "spring 2026", "channel": "email"}
        if invalid:
            fault = self.rng.randrange(3)
            if fault == 0:
                del properties["currency"]
            elif fault == 1:
                properties["total"] = "forty-two"
            else:
                sku, name, price, _category = self.rng.choice(PRODUCTS)
                products.append({"sku": sku, "name": name, "price": price, "quantity": "1.5"})
        event["properties"] = properties
        self._context(event)
        return event

    def signed_up(self, invalid: bool) -> JsonObject:
        event = self._base("track")
        event["event"] = "Signed Up"
        customer_id, email, first, last = self._customer()
        event["userId"] = customer_id
        properties: JsonObject = {
            "email": email,
            "firstName": first,
            "lastName": last,
            "isNewCustomer": True,
        }
        if self.rng.random() < 0.3:
            properties["referralCode"] = f"ref-{self.rng.getrandbits(24):06x}"
            properties["coupon"] = "WELCOME10"
        if invalid:
            del properties["email"]
        event["properties"] = properties
        self._context(event)
        return event

    def custom(self, invalid: bool) -> JsonObject:
        event = self._base("track")
        customer_id, email, _, _ = self._customer()
        event["userId"] = customer_id
        if self.rng.random() < 0.5:
            event["event"] = "Download"
            properties: JsonObject = {
                "type": "application",
                "fileId": f"MyApp-2.{self.rng.randrange(10)}.dmg",
                "email": email,
                "deduplicationId": f"dl-{customer_id}-{self.seq}",
            }
        else:
            event["event"] = "Video Played"
            properties = {
                "email": email,
                "videoId": f"intro-{self.rng.randrange(200)}",
                "position": self.rng.randrange(600),
                "fullscreen": self.rng.random() < 0.5,
            }
        if invalid:
            del properties["email"]
        event["properties"] = properties
        self._context(event)
        return event

    def page(self, invalid: bool) -> JsonObject:
        del invalid  # page views match no cloud subscription: never invalid
        event = self._base("page")
        url, title = self.rng.choice(PAGES)
        event["name"] = title
        event["category"] = "Marketing"
        event["properties"] = {"title": title, "url": url, "path": url.split(".com", 1)[1]}
        self._context(event)
        return event

    def unmatched(self, invalid: bool) -> JsonObject:
        del invalid
        event = self._base("track")
        event["event"] = self.rng.choice(UNMATCHED_EVENTS)
        event["userId"] = self._customer()[0]
        event["properties"] = {"sku": self.rng.choice(PRODUCTS)[0], "price": 10}
        self._context(event)
        return event

    def malformed(self) -> str:
        """A line that is not a JSON object: truncated JSON or an array."""
        if self.rng.random() < 0.5:
            text = json.dumps(self.order_completed(invalid=False), separators=(",", ":"))
            return text[: len(text) // 2]
        return json.dumps(["identify", {"userId": self._customer()[0]}])

    # -- the stream -----------------------------------------------------------------------

    def lines(self, count: int) -> Iterator[str]:
        """``count`` JSON lines (without line endings)."""
        makers: list[tuple[EventMaker, int]] = [
            (Generator.identify, 20),
            (Generator.order_completed, 28),
            (Generator.signed_up, 10),
            (Generator.custom, 14),
        ]
        if not self.valid_only:
            makers += [(Generator.page, 14), (Generator.unmatched, 14)]
        functions = [m for m, _ in makers]
        weights = [w for _, w in makers]
        for _ in range(count):
            invalid = self.rng.random() < self.invalid_rate
            if invalid and self.rng.random() < 0.25:
                yield self.malformed()
                continue
            maker = self.rng.choices(functions, weights)[0]
            if invalid and maker in (Generator.page, Generator.unmatched):
                maker = Generator.order_completed
            yield json.dumps(maker(self, invalid), ensure_ascii=False)


def write_events(
    path: Path, count: int, *, seed: int, invalid_rate: float = 0.10, valid_only: bool = False
) -> None:
    """Write ``count`` events to ``path`` (gzip when it ends in ``.gz``), via a temporary file."""
    generator = Generator(seed, invalid_rate=invalid_rate, valid_only=valid_only)
    partial = path.with_name(path.name + ".partial")
    with ExitStack() as stack:
        binary: io.BufferedIOBase = stack.enter_context(partial.open("wb"))
        if path.suffix == ".gz":
            # No file name and mtime 0 in the header: the same bytes for the same arguments.
            binary = stack.enter_context(
                gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=binary, mtime=0)
            )
        batch: list[str] = []
        for line in generator.lines(count):
            batch.append(line)
            if len(batch) >= 1000:
                binary.write(("\n".join(batch) + "\n").encode())
                batch.clear()
        if batch:
            binary.write(("\n".join(batch) + "\n").encode())
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    """The command line: ``generate.py OUT --events N --seed S``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", type=Path, help="output file (.jsonl, or .gz for gzip)")
    parser.add_argument("--events", type=int, required=True, help="number of lines")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--invalid-rate", type=float, default=0.10, help="share of broken lines (default 0.10)"
    )
    parser.add_argument(
        "--valid-only", action="store_true", help="only valid events that make exactly one call"
    )
    args = parser.parse_args(argv)
    if args.events < 0 or not 0.0 <= args.invalid_rate <= 1.0:
        parser.error("--events must be >= 0 and --invalid-rate from 0 to 1")
    write_events(
        args.out,
        args.events,
        seed=args.seed,
        invalid_rate=args.invalid_rate,
        valid_only=args.valid_only,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
