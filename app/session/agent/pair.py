"""The local key pair: what the operator's tools sign with, valid only at this session's agent."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

from app.session.model import Secret

_ALPHABET = string.ascii_uppercase + string.digits  # OUTSCALE access keys and secrets use these


@dataclass(frozen=True)
class LocalPair:
    """An OUTSCALE-shaped pair (20-character access key, 40-character secret) for one session."""

    access_key: str
    secret_key: Secret = field(repr=False)


def new_local_pair() -> LocalPair:
    """A fresh random pair (secrets module: 20 + 40 characters of A-Z0-9, about 310 bits)."""
    ak = "".join(secrets.choice(_ALPHABET) for _ in range(20))
    sk = "".join(secrets.choice(_ALPHABET) for _ in range(40))
    return LocalPair(ak, Secret(sk))
