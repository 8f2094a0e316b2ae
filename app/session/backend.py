"""The real backend: `RealBackend` wires the session to the token layer, the mTLS transport
(app.session.tls) and the API client; `OutscaleSessionApi` is the `SessionApi` over `OutscaleClient`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from app.session.deferred import CertificatePreview
from app.session.errors import SessionError
from app.session.helpers import shorten_deadline
from app.session.model import (
    AuthMethod,
    CertificateChoice,
    Credentials,
    LoginRequest,
)
from app.session.policy_gate import check_certificate_source, check_endpoint, check_issuer, check_login
from app.session.ports import (
    AccessPolicy,
    AccountSummary,
    Connection,
    OpenedCertificate,
    SessionApi,
    SessionSettings,
    TemporaryKey,
    Watch,
)
from app.tokens.errors import TokenNotPresent
from app.tokens.pin import PinCallback
from app.tokens.signer import CardSigner, Signer
from app.tokens.watch import WatchEvent

if TYPE_CHECKING:  # the API client loads requests: only when a session logs in
    from app.session.api import OutscaleClient
    from app.tokens.stores.base import ComputerStore


def _fingerprint(cert: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _known_modules() -> list[str]:
    """The modules a card URI may name: Settings, the environment, p11-kit, OpenSC's defaults, and
    those already loaded (they came from one of these, or from the user's --module)."""
    from app.session.config import load_settings
    from app.session.errors import ConfigError
    from app.tokens.modules import known_modules
    from app.tokens.p11.registry import loaded_paths

    try:
        settings = load_settings().pkcs11_modules
    except ConfigError:  # a refused or broken settings file adds nothing to the known set
        settings = ()
    return [c.path for c in known_modules(settings)] + loaded_paths()


def _candidate_modules() -> list[str]:
    """PKCS#11 modules to look for the card in when neither the request nor the URI names one."""
    from app.tokens.modules import module_paths

    return list(module_paths())


class OutscaleSessionApi:
    """SessionApi over app.session.api.OutscaleClient."""

    def __init__(self, client: OutscaleClient, revoke_deadline: float = 20.0) -> None:
        self._client = client
        self._revoke_deadline = revoke_deadline

    @property
    def client(self) -> OutscaleClient:
        """The client itself (the UI calls ReadVms on it)."""
        return self._client

    def read_policy(self) -> AccessPolicy:
        """ReadApiAccessPolicy, reduced to what the session uses."""
        p = self._client.read_api_access_policy()
        max_seconds = float(p.max_access_key_expiration_seconds or 0)
        return AccessPolicy(bool(p.require_trusted_env), max_seconds or None)

    def create_temporary_key(self, expires_at: _dt.datetime, tag: tuple[str, str]) -> TemporaryKey:
        """CreateAccessKey with an expiry date and the session's tag."""
        k = self._client.create_access_key(expiration_date=expires_at, tag=f"{tag[0]}={tag[1]}")
        exp = k.expiration_date
        expires = exp.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z") if exp is not None else None
        return TemporaryKey(k.access_key_id, k.secret_key, expires)

    def delete_key(self, access_key_id: str) -> None:
        """DeleteAccessKey, within `revoke_deadline` s (a logout never hangs on a slow server: the session
        then says the key outlives it, and until when)."""
        shorten_deadline((self._client.http,), self._revoke_deadline)
        self._client.delete_access_key(access_key_id)

    def find_keys(self, tag: tuple[str, str]) -> list[str]:
        """Ids of the keys that carry `tag` (ReadAccessKeys)."""
        wanted = f"{tag[0]}={tag[1]}"
        return [k.access_key_id for k in self._client.read_access_keys() if k.tag == wanted]

    def read_account(self) -> AccountSummary:
        """The first account ReadAccounts gives (id, e-mail), or an empty summary."""
        accounts = self._client.read_accounts()
        if not accounts:
            return AccountSummary(None, None)
        return AccountSummary(accounts[0].account_id or None, accounts[0].email)


class RealBackend:
    """Wires the session to the token layer, the mTLS transport (app.session.tls) and the API client."""

    def __init__(self, *, timeout: float = 30.0, deadline: float | None = None,
                 revoke_deadline: float = 20.0, stores: Sequence[ComputerStore] | None = None) -> None:
        self._stores = stores  # the stores of this computer to open store keys in (None: the OS's own)
        self._timeout = timeout  # one read or the TCP connect
        self._deadline = deadline  # one whole request (None: the transport's DEFAULT_DEADLINE)
        self._revoke_deadline = revoke_deadline  # DeleteAccessKey when the session ends

    # -- certificate ----------------------------------------------------------------------------

    def open_certificate(self, request: LoginRequest, pin_callback: PinCallback) -> OpenedCertificate:
        """Open the chosen file or card certificate (a card asks its PIN)."""
        choice = request.certificate
        if choice is None:
            raise SessionError("no certificate was chosen")
        check_certificate_source(choice)  # the organisation's "cards only", before a file is opened
        opened = self._open_certificate(choice, pin_callback)
        check_issuer(opened.signer.certificate, opened.signer.chain)
        return opened

    def _open_certificate(self, choice: CertificateChoice, pin_callback: PinCallback) -> OpenedCertificate:
        entry = choice.entry
        if entry is not None and entry.store_ref is not None and not entry.module_path:
            # the Windows store or the keychain: the OS holds the key (and asks its own PIN, if any)
            from app.tokens.stores.base import StoreSignerBase
            from app.tokens.stores.card_watch import card_identity
            from app.tokens.stores.computer import open_store_signer

            held = open_store_signer(entry, pin_callback, self._stores)
            fingerprint = _fingerprint(held.certificate)
            # a key on a card (the Windows store's card providers, a token): watched on its reader's
            # PC/SC state like a PKCS#11 card; a software key has no card to watch
            place = held.card_place if isinstance(held, StoreSignerBase) else None
            label = entry.label or None
            watched = card_identity(place, fingerprint, label) if place is not None else None
            return OpenedCertificate(held, held.certificate.subject.rfc4514_string(), fingerprint, watched,
                                     label if watched is not None else None)
        if not choice.is_card:
            from app.tokens.filestore import open_file_signer

            signer: Signer = open_file_signer(choice.ref, choice.file_password)
            return OpenedCertificate(signer, signer.certificate.subject.rfc4514_string(),
                                     _fingerprint(signer.certificate), None, None)
        from app.tokens.card import Pkcs11Signer, open_card_signer
        from app.tokens.errors import ModuleLoadFailed
        from app.tokens.modules import allowed_module
        from app.tokens.uri import Pkcs11Uri

        card: Pkcs11Signer | None = None
        if choice.entry is not None and choice.entry.module_path:
            # the picker's entry names its module and token: open it as it is (no second scan)
            card = open_card_signer(choice.entry.module_path, choice.entry, pin_callback)
        else:
            named = choice.module_path or Pkcs11Uri.parse(choice.ref).module_path
            if named and choice.module_from_user:
                from app.tokens.module_gate import note_user_module

                note_user_module(named)  # --module: the policy's user_may_add decides
            elif named:
                # a URI or a remembered choice only names a module: a known one, checked before any dlopen
                by = "The saved choice" if choice.module_path else "The card URI"
                named = allowed_module(named, _known_modules(), named_by=by)
            candidates = [named] if named else _candidate_modules()
            if not candidates:
                raise SessionError("No PKCS#11 module is known for this card: give its path (--module).")
            for i, module_path in enumerate(candidates):
                try:
                    card = open_card_signer(module_path, choice.ref, pin_callback)
                    break
                except (TokenNotPresent, ModuleLoadFailed):
                    if i == len(candidates) - 1:
                        raise  # the card is in none of them: say so with the last module's words
        assert card is not None
        return OpenedCertificate(card, card.certificate.subject.rfc4514_string(), card.fingerprint_sha256,
                                 card.identity, card.token_label)

    def preview_certificate(self, request: LoginRequest) -> CertificatePreview | None:
        """The picker's card certificate and the schemes its card can make, read without a PIN.

        None for a file certificate or a bare URI (resolving it scans every module: the card then
        opens as before, PIN first).
        """
        choice = request.certificate
        entry = choice.entry if choice is not None and choice.is_card else None
        if entry is None or entry.token is None or not entry.module_path or entry.problems:
            return None
        from app.tokens.card import schemes_for
        from app.tokens.p11.registry import load_module

        cert = entry.certificate()
        public = cert.public_key()
        curve = getattr(getattr(public, "curve", None), "name", None)
        mechanisms = load_module(entry.module_path).mechanisms(entry.token.serial)
        schemes = schemes_for(entry.key_type, entry.key_size, mechanisms, curve)
        return CertificatePreview(cert, (), entry.key_type, entry.key_size, schemes,
                                  f"card '{entry.token.label}'")

    def card_login(self, opened: OpenedCertificate, pin_callback: PinCallback) -> None:
        """Log in to the card again when it lost its login state."""
        signer = opened.signer
        if not isinstance(signer, CardSigner) or signer.logged_in:
            return  # a file key has no login; a card that kept its login state needs no PIN
        signer.relogin(pin_callback)

    def release_certificate(self, opened: OpenedCertificate) -> None:
        """Close the card signer (log out, forget the PIN)."""
        if isinstance(opened.signer, CardSigner):
            opened.signer.close()

    # -- transport and API -----------------------------------------------------------------------

    def connect(self, request: LoginRequest, signer: Signer | None) -> Connection:
        """An mTLS requests session (app.session.tls) trusting the request's extra CA file."""
        from app.session.policy_gate import trust_for
        from app.session.tls import make_session
        from app.session.tls.session import DEFAULT_DEADLINE

        check_login(request)  # the policy first: a refused login touches no network and no card
        session: Connection = make_session(signer, trust_for(request.ca_file),
                                           timeout=self._timeout, deadline=self._deadline or DEFAULT_DEADLINE)
        return session

    def tls_summary(self, connection: Connection) -> str | None:
        """The last handshake in one line, when the connection knows it."""
        info = getattr(connection, "connection_info", None)
        return info.summary() if info is not None else None

    def api(self, connection: Connection, request: LoginRequest, credentials: Credentials) -> SessionApi:
        """An OutscaleClient over `connection`, signed with `credentials`."""
        from app.session.api import OutscaleClient
        from app.session.regions import resolve_endpoint

        check_endpoint(request)
        endpoint = resolve_endpoint(request.region, request.endpoint)
        base = OutscaleClient(connection, endpoint, timeout=self._timeout)  # type: ignore[arg-type]
        if credentials.method is AuthMethod.PASSWORD:
            client = base.with_password(credentials.identity, credentials.secret)
        else:
            client = base.with_access_key(credentials.identity, credentials.secret)
        return OutscaleSessionApi(client, self._revoke_deadline)

    # -- card watch ------------------------------------------------------------------------------

    def watch(self, opened: OpenedCertificate, on_event: Callable[[WatchEvent], None],
              settings: SessionSettings) -> Watch:
        """A (not started) watch of the opened card at the settings' interval and back-off."""
        from app.tokens.watch import watch_card

        if opened.card is None:
            raise SessionError("a file certificate has no card to watch")
        place = getattr(opened.signer, "card_place", None)
        if place is not None:  # an OS store's key on a card: its reader's PC/SC state, no module
            from app.tokens.stores.card_watch import watch_store_card

            return watch_store_card(place, opened.card.cert_fingerprint, on_event, label=opened.card.label,
                                    interval=settings.watch_interval,
                                    rescan_backoff=tuple(settings.rescan_backoff))
        return watch_card(opened.card, on_event, interval=settings.watch_interval,
                          rescan_backoff=settings.rescan_backoff)
