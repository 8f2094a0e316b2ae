"""Deleting the session's temporary key when the session ends, and saying so plainly when it cannot be.

`KeyRevocation` is a mixin of `TrustedSession` (lifecycle.py): `_revoke()` deletes the key the session
made; `_revoke_lost_key()` finds, by the session's unique tag, a key whose CreateAccessKey answer never
arrived and deletes it. Whatever goes wrong (even Ctrl-C), the user hears that a key outlives the session
and until when.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.session.helpers import plain_text
from app.session.model import EventKind
from app.session.ports import RevocationResult, SessionApi, TemporaryKey


class KeyRevocation:
    """Mixin for TrustedSession (the attributes are the session's)."""

    _key: TemporaryKey | None
    _api: SessionApi | None
    _key_in_flight: tuple[SessionApi, tuple[str, str]] | None
    _revocation: RevocationResult | None
    _emit: Callable[..., Any]

    def _revoke(self) -> RevocationResult:
        key, api = self._key, self._api
        if key is None or api is None:
            return RevocationResult(None, False, message="no temporary key to revoke")
        try:
            api.delete_key(key.access_key_id)
        except BaseException as e:  # whatever went wrong (even Ctrl-C), the user hears the key outlives it
            expires = key.expiration_date
            why = plain_text(e) if isinstance(e, Exception) else "interrupted"
            msg = (f"The temporary access key {key.access_key_id} could not be deleted ({why}); "
                   f"it stays valid until it expires at {expires or 'its expiration date'}.")
            result = RevocationResult(key.access_key_id, False, expires, msg)
            self._revocation = result  # also when a Ctrl-C cuts the call short (re-raised below)
            self._emit(EventKind.KEY_REVOKE_FAILED, message=msg,
                       data={"access_key_id": key.access_key_id, "expiration_date": expires})
            if not isinstance(e, Exception):
                raise
            return result
        self._emit(EventKind.KEY_REVOKED, message=f"Temporary access key {key.access_key_id} deleted.",
                   data={"access_key_id": key.access_key_id})
        return RevocationResult(key.access_key_id, True, key.expiration_date)

    def _revoke_lost_key(self) -> RevocationResult:
        """Find by this session's tag and delete a key whose CreateAccessKey answer never arrived."""
        pending, self._key_in_flight = self._key_in_flight, None
        assert pending is not None
        api, tag = pending
        tag_text = f"{tag[0]}={tag[1]}"
        deleted: list[str] = []
        try:
            for access_key_id in api.find_keys(tag):
                api.delete_key(access_key_id)
                deleted.append(access_key_id)
                self._emit(EventKind.KEY_REVOKED, data={"access_key_id": access_key_id},
                           message=f"Temporary access key {access_key_id} deleted (its creation was "
                                   "interrupted).")
        except BaseException as e:  # even Ctrl-C: the user hears that a key may outlive the session
            why = plain_text(e) if isinstance(e, Exception) else "interrupted"
            msg = ("The login stopped while a temporary access key was being created, and whether one was "
                   f"made could not be checked ({why}). If it was, it is tagged {tag_text} and stays valid "
                   "until its expiration date.")
            result = RevocationResult(None, False, None, msg)
            self._revocation = result
            self._emit(EventKind.KEY_REVOKE_FAILED, message=msg, data={"tag": tag_text})
            if not isinstance(e, Exception):
                raise
            return result
        if not deleted:
            return RevocationResult(None, False, message="no temporary key was created")
        return RevocationResult(deleted[0], True)

