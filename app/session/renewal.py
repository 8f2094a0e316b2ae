"""Renewing the session's temporary key before it expires, so that long runs (a Terraform apply through
the local agent) outlive one key.

`KeyRenewal` is a mixin of `TrustedSession` (lifecycle.py) that adds `renew_key()`: while the session is
ACTIVE (the card in: the call goes over the mTLS transport, whose kept connection or TLS ticket needs no
new PIN and usually no new card signature), it creates a new tagged temporary key signed with the
current one, switches the session's clients to it under the session's lock, then deletes the old key.
If the session started ending meanwhile, the new key is deleted at once. In GRACE nothing is renewed
(the card is out; the key and the countdown bound the session as before).

`KeyRenewer` is the thread that calls it: for each key it sees, at `fraction` of the key's remaining
life as first seen (three quarters by default: 9 h into a 12 h key; 4.5 s into a 6 s sandbox key), and
after a failure again a little later. The agent starts one with every session (app.session.agent).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.session.errors import SessionEnded, SessionError
from app.session.helpers import parse_iso, plain_text
from app.session.model import AuthMethod, Credentials, EventKind, SessionState

if TYPE_CHECKING:
    from app.session.model import LoginRequest, SessionInfo
    from app.session.ports import Clock, Connection, SessionApi, SessionBackend, SessionSettings, TemporaryKey

log = logging.getLogger(__name__)

TAG_KEY = "osc-trusted-login"  # = lifecycle.KEY_TAG_KEY (that module imports this one)


class KeyRenewal:
    """Mixin for TrustedSession: `renew_key()` and `key_expiry()` (the attributes are the session's)."""

    _lock: threading.RLock
    _phase: Any  # lifecycle._Phase (LIVE while the session runs)
    _state: SessionState
    _key: TemporaryKey | None
    _api: SessionApi | None
    _temp_credentials: Credentials | None
    _plain_api: SessionApi | None
    _key_expiry_wall: float | None
    _info: SessionInfo | None
    _connection: Connection | None
    _backend: SessionBackend
    _request: LoginRequest
    _settings: SessionSettings
    _clock: Clock
    _emit: Callable[..., None]

    def key_expiry(self) -> tuple[str | None, float | None]:
        """(temporary key id, its expiry as POSIX time) of the moment; (None, None) without one."""
        with self._lock:
            key = self._key
            return (key.access_key_id if key else None), self._key_expiry_wall

    def _live_key(self) -> tuple[SessionApi, TemporaryKey]:
        with self._lock:
            if getattr(self._phase, "name", "") != "LIVE" or self._key is None or self._api is None:
                raise SessionEnded("the session has no temporary key to renew")
            if self._state is not SessionState.ACTIVE:
                raise SessionError("the card is out: the temporary key is renewed once it is back")
            return self._api, self._key

    def renew_key(self) -> TemporaryKey:
        """Replace the temporary key by a new one (blocking: never on a UI thread); returns the new key."""
        api, old = self._live_key()
        lifetime = self._settings.key_lifetime_seconds
        maximum = api.read_policy().max_key_seconds
        if maximum:
            lifetime = min(lifetime, maximum)
        when = _dt.datetime.fromtimestamp(self._clock.time() + lifetime, _dt.UTC).replace(microsecond=0)
        tag = (TAG_KEY, f"{self._settings.key_tag_value}-{secrets.token_hex(6)}")
        new = api.create_temporary_key(when, tag)
        assert self._connection is not None
        creds = Credentials(AuthMethod.ACCESS_KEY, new.access_key_id, new.secret_key)
        new_api = self._backend.api(self._connection, self._request, creds)
        with self._lock:
            live = getattr(self._phase, "name", "") == "LIVE" and self._key is old
            if live:
                self._key, self._api, self._temp_credentials, self._plain_api = new, new_api, creds, None
                wall = parse_iso(new.expiration_date)
                self._key_expiry_wall = wall if wall is not None else self._clock.time() + lifetime
                if self._info is not None:
                    self._info = dataclasses.replace(self._info, temporary_key_id=new.access_key_id,
                                                     temporary_key_expires=new.expiration_date)
                self._emit(EventKind.KEY_CREATED,
                           message=f"Temporary access key {new.access_key_id} created (it replaces "
                                   f"{old.access_key_id}, which is deleted).",
                           data={"access_key_id": new.access_key_id, "expiration_date": new.expiration_date,
                                 "replaces": old.access_key_id})
        if not live:
            _delete_quietly(new_api, new)
            raise SessionEnded("the session ended while its temporary key was being renewed")
        self._retire(new_api, old)
        return new

    def _retire(self, api: SessionApi, old: TemporaryKey) -> None:
        try:
            api.delete_key(old.access_key_id)
        except Exception as e:  # it still expires on its own, soon: say so
            self._emit(EventKind.WARNING,
                       message=f"The previous temporary access key {old.access_key_id} could not be deleted "
                               f"({plain_text(e)}); it stays valid until {old.expiration_date}.",
                       data={"warning": "old_key_not_deleted", "detail": plain_text(e),
                             "access_key_id": old.access_key_id, "until": old.expiration_date})
        else:
            self._emit(EventKind.KEY_REVOKED, message=f"Temporary access key {old.access_key_id} deleted "
                       "(renewed).", data={"access_key_id": old.access_key_id, "renewed": True})
        finally:
            old.secret_key.wipe()


def _delete_quietly(api: SessionApi, key: TemporaryKey) -> None:
    try:
        api.delete_key(key.access_key_id)
    except Exception:
        log.warning("a temporary key made while the session ended could not be deleted; it expires by itself")
    key.secret_key.wipe()


class KeyRenewer:
    """A daemon thread renewing a session's temporary key at `fraction` of each key's life."""

    def __init__(self, session: Any, *, check_seconds: float = 1.0, fraction: float = 0.75,
                 clock: Callable[[], float] = time.time) -> None:
        self._session = session
        self._check = check_seconds
        self._fraction = fraction
        self._clock = clock
        self.renewals = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="session-key-renewal", daemon=True)

    def start(self) -> KeyRenewer:
        """Start watching (returns self)."""
        self._thread.start()
        return self

    def _run(self) -> None:
        seen: dict[str, float] = {}
        retry_at = 0.0
        while not self._session.wait_ended(self._check):
            key_id, expiry = self._session.key_expiry()
            now = self._clock()
            if key_id is None or expiry is None:
                continue
            born = seen.setdefault(key_id, now)
            due = born + self._fraction * max(0.0, expiry - born)
            if now < due or now < retry_at or self._session.state is not SessionState.ACTIVE:
                continue
            try:
                self._session.renew_key()
                self.renewals += 1
            except Exception as e:  # the card went out, the API refused...: try again a little later
                self.failures += 1
                retry_at = now + max(self._check, min(30.0, (expiry - now) / 4))
                log.info("temporary key renewal failed: %s", type(e).__name__)
