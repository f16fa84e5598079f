"""Where the MAPI key and secret come from: options, the environment, a file, a prompt.

Never a flag value: the secret comes from ``--secret-file``, from
``FRIENDBUY_MAPI_SECRET`` or, in a terminal, from a prompt that does not echo
(the caller's ``prompt``).  Each secret is registered with ``redact.hide`` as
soon as it is read.  A secret written ``ENV:SECRET`` picks
``https://mapi.fbot-ENV.me`` (``ENV`` must be one host name label, so it cannot
choose another host).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from fbcli.errors import ConfigError
from fbcli.hosts import check_base_url
from fbcli.inputs import read_bounded
from fbcli.mapi import Credentials, base_url_for, split_secret
from fbcli.redact import hide

MAX_SECRET_BYTES: Final = 65_536
"""A secret file larger than this is not a secret file."""
ENVIRONMENT_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
"""The ``ENV`` of an ``ENV:SECRET`` secret: one DNS label, so it can only pick
``mapi.fbot-ENV.me`` (``evil.example/x:...`` would otherwise choose the host)."""


def read_credentials(
    key: str | None,
    secret_file: Path | None,
    base_url: str | None,
    *,
    environ: Mapping[str, str],
    prompt: Callable[[str], str] | None = None,
    warn: Callable[[str], None] = lambda _: None,
) -> tuple[Credentials, str]:
    """MAPI credentials and base URL: the key from ``key`` or ``FRIENDBUY_MAPI_KEY``, the
    secret from ``secret_file``, ``FRIENDBUY_MAPI_SECRET`` or ``prompt(key)`` (given only
    in a terminal); the base URL from ``base_url``, else the secret's ``ENV:``, else
    production."""
    key = key or environ.get("FRIENDBUY_MAPI_KEY")
    if not key:
        raise ConfigError(
            "no MAPI credentials: set FRIENDBUY_MAPI_KEY and FRIENDBUY_MAPI_SECRET "
            "(or --key and --secret-file)",
            hint="try --emulator to replay against the built-in MAPI emulator",
        )
    if secret_file is not None:
        secret = read_secret_file(secret_file, warn=warn)
    elif environ.get("FRIENDBUY_MAPI_SECRET"):
        secret = environ["FRIENDBUY_MAPI_SECRET"]
    elif prompt is not None:
        secret = prompt(key).strip()
        if not secret:
            raise ConfigError("no MAPI secret given")
    else:
        raise ConfigError(
            "no MAPI secret: set FRIENDBUY_MAPI_SECRET or give --secret-file PATH",
            hint="in a terminal, fbcli asks for the secret; try --emulator to replay "
            "against the built-in MAPI emulator",
        )
    hide(secret)
    environment, secret = split_secret(secret)
    hide(secret)
    if base_url is None and environment is not None and not ENVIRONMENT_RE.fullmatch(environment):
        raise ConfigError(
            "the secret has the form ENV:SECRET, but its ENV is not a host name label "
            "(letters, digits and '-'), so it cannot pick https://mapi.fbot-ENV.me",
            hint="give the MAPI host with --base-url",
        )
    return Credentials(key, secret), check_base_url(base_url or base_url_for(environment))


def read_secret_file(path: Path, *, warn: Callable[[str], None] = lambda _: None) -> str:
    """The secret in ``path``; ``warn`` (as ssh does) when other users may read the file.

    Only a warning, not a refusal: secret stores (Kubernetes, Docker secrets)
    often mount files readable by all.  A missing file is not named: the
    argument may be the secret itself, given by mistake.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            "the secret file does not exist (its name is not repeated: it may be the secret)",
            hint="--secret-file takes the path of a file that holds the secret",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the secret file: {exc.strerror}") from None
    if os.name == "posix" and stat.S_ISREG(mode) and mode & 0o077:
        warn(
            f"the secret file {path} can be read by other users (mode "
            f"{stat.S_IMODE(mode):04o}): chmod 600 it"
        )
    raw = read_bounded(path, "secret file", limit=MAX_SECRET_BYTES)
    secret = raw.decode("utf-8", "replace").strip()
    if not secret:
        raise ConfigError("the secret file is empty", where=str(path))
    return secret
