"""macOS: the managed preferences of the app's bundle id, which a configuration profile writes.

`/Library/Managed Preferences/<bundle id>.plist` applies to the whole computer and wins over
`/Library/Managed Preferences/<user>/<bundle id>.plist` (a profile installed for one user). Both are
written by macOS (root-owned): the same ownership checks as on Linux refuse a file a user could write.
"""

from __future__ import annotations

import getpass
import plistlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.policy.files import read_source
from app.policy.model import SourceDoc

BUNDLE_ID = "com.outscale.trusted-login"
MANAGED = "Library/Managed Preferences"
# keys a configuration profile payload carries about itself, not settings
_PAYLOAD_KEYS = ("PayloadType", "PayloadVersion", "PayloadIdentifier", "PayloadUUID", "PayloadDisplayName",
                 "PayloadDescription", "PayloadOrganization", "PayloadEnabled", "PayloadScope")


def parse_plist(data: bytes) -> Mapping[str, Any]:
    """A managed preferences plist (XML or binary) as a policy document."""
    try:
        doc = plistlib.loads(data)
    except plistlib.InvalidFileException as e:
        raise ValueError(f"not a property list: {e}") from e
    except Exception as e:  # expat and the binary reader raise their own types on damaged input
        raise ValueError(f"not a property list ({type(e).__name__})") from e
    if not isinstance(doc, dict):
        raise ValueError("a policy property list must be a dictionary")
    return doc


def parse_mobileconfig(data: bytes, bundle_id: str = BUNDLE_ID) -> Mapping[str, Any]:
    """The settings a configuration profile (.mobileconfig) gives `bundle_id`: its payloads of that
    PayloadType (or of com.apple.ManagedClient.preferences, the older custom-settings form) merged."""
    profile = parse_plist(data)
    out: dict[str, Any] = {}
    for payload in profile.get("PayloadContent") or []:
        if not isinstance(payload, dict):
            continue
        if payload.get("PayloadType") == bundle_id:
            out.update({k: v for k, v in payload.items() if k not in _PAYLOAD_KEYS})
        elif payload.get("PayloadType") == "com.apple.ManagedClient.preferences":
            domain = (payload.get("PayloadContent") or {}).get(bundle_id) or {}
            for forced in domain.get("Forced") or []:
                out.update(forced.get("mcx_preference_settings") or {})
    return out


def read_macos(root: Path, trusted_uids: frozenset[int], user: str | None = None) -> list[SourceDoc]:
    """The user's then the computer's managed preferences, lowest precedence first."""
    base = root / MANAGED
    out: list[SourceDoc] = []
    try:
        user = user or getpass.getuser()
    except Exception:  # no user name (a service without a passwd entry): the computer's only
        user = None
    candidates = ([base / user / f"{BUNDLE_ID}.plist"] if user else []) + [base / f"{BUNDLE_ID}.plist"]
    for path in candidates:
        if path.exists():
            out.append(read_source(path, root, trusted_uids, parse_plist))
    return out
