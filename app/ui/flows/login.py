"""The login flow: a profile or a remembered login fills the form; start, cancel, then done or failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from app.session.model import AuthMethod, CertificateChoice, EndReason, LoginRequest, Secret, SessionInfo
from app.ui.errors import describe
from app.ui.flows.seam import CurrentSession, SessionFactory, SessionHandle, default_session_factory
from app.ui.login import LoginPrefill, LoginWindow, PickedCertificate
from app.ui.pin import PinBridge
from app.ui.workers import Worker

if TYPE_CHECKING:
    from app.session.config import OscProfile
    from app.session.model import SessionEvent
    from app.session.ports import SessionSettings
    from app.ui.remember import LoginToRemember, RememberedLogin

# (ref, module path, title, detail): a certificate as the keyring keeps it (never a file's password).
RememberedCertificate = tuple[str, str | None, str, str]


class LoginFlow(QObject):
    """From the filled form to a live session (or a said failure); the session goes in `current`."""

    logged_in = Signal(object)  # SessionInfo
    login_failed = Signal(object)  # the error
    remember_failed = Signal(str)  # the keyring's problem, in plain words

    def __init__(
        self,
        window: LoginWindow,
        pin_bridge: PinBridge,
        net: Worker,
        control: Worker,
        current: CurrentSession,
        *,
        on_event: Callable[[object, SessionEvent], None],
        session_factory: SessionFactory | None,
        session_settings: SessionSettings | None,
        use_keyring: bool,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.pin_bridge = pin_bridge
        self.net = net
        self.control = control
        self.current = current
        self._on_event = on_event  # (session tag, event), from the session's threads
        self._factory: SessionFactory = session_factory or default_session_factory
        self._settings = session_settings
        self._use_keyring = use_keyring
        self._remember_pending: LoginToRemember | None = None
        self._last_failure: BaseException | None = None
        self._attempt: LoginRequest | None = None
        window.login_requested.connect(self.start_login)
        window.cancel_requested.connect(self.cancel_login)
        window.profile_selected.connect(self.load_profile)
        pin_bridge.keypad_cancelled.connect(self.cancel_login)
        pin_bridge.asked.connect(self._pin_asked)

    # -- the form, filled for the user ----------------------------------------------------------------

    def load_remembered_later(self) -> None:
        """Fill the form from the keyring after the first paint (importing keyring and asking the OS
        keyring takes a while, and the window should not wait for it)."""
        QTimer.singleShot(100, self._load_remembered)

    def _load_remembered(self) -> None:
        from app.ui import remember

        self.net.submit(remember.load, self._remembered, name="keyring-load")

    def _remembered(self, r: RememberedLogin | None) -> None:
        w = self.window
        if r is None or w.identity_edit.text():
            return  # nothing stored, or the user already started typing
        method = AuthMethod.ACCESS_KEY if r.method == AuthMethod.ACCESS_KEY.value else AuthMethod.PASSWORD
        w.prefill(
            LoginPrefill(
                method=method,
                identity=r.identity,
                secret=r.password,
                region=r.region,
                endpoint=r.endpoint,
                certificate=_certificate_from_memory(r.certificate),
                remember=True,
                remember_secret=r.password is not None,
            )
        )

    def load_profile(self, name: str) -> None:
        """Read an osc profile on the network worker and fill the form with it."""

        def read() -> OscProfile:
            from app.session import config

            return config.resolve_profile(name)

        self.net.submit(read, self._apply_profile, self._profile_error, name="profile")

    def _apply_profile(self, p: OscProfile) -> None:
        method = AuthMethod.ACCESS_KEY if p.access_key else AuthMethod.PASSWORD
        secret = p.secret_key if method is AuthMethod.ACCESS_KEY else p.password
        self.window.prefill(
            LoginPrefill(
                method=method,
                identity=p.access_key or p.login or "",
                secret=secret.reveal() if secret is not None else None,
                region=p.region,
                endpoint=p.endpoint_api,
                certificate=certificate_of_profile(p),
                profile=p.name,
            )
        )

    def _profile_error(self, e: BaseException) -> None:
        self.window.show_message(*describe(e))

    # -- login ----------------------------------------------------------------------------------------

    def start_login(self, request: LoginRequest) -> None:
        """Build the session and log in on the network worker."""
        w = self.window
        if self.current.session is not None:
            return
        # Every attempt is visibly new: the last failure's words go, the status starts over.
        w.clear_message()
        w.set_busy(True, self.tr("Contacting %1...").replace("%1", request.endpoint or request.region))
        self._attempt = request
        self._remember_pending = self._what_to_remember(request)
        self.pin_bridge.reopen()
        self.pin_bridge.set_parent_widget(w)
        tag = object()
        self.current.tag = tag
        on_event = self._on_event
        try:
            session = self._new_session(request, lambda event: on_event(tag, event))
        except Exception as e:
            w.set_busy(False)
            w.show_message(*describe(e))
            return
        self.current.session = session
        login = session.login
        module = _card_module(request) if isinstance(self._last_failure, _card_absent()) else None
        if module is not None:
            # The last try found no card: the module's slot list is re-read first, or the card inserted
            # meanwhile would stay unseen until the picker re-scanned.
            def login_after_rescan() -> SessionInfo:
                from app.tokens.inventory import rescan

                rescan(module)
                return session.login()

            login = login_after_rescan
        self._last_failure = None
        self.net.submit(
            login,
            lambda info: self._login_done(session, info),
            lambda e: self._login_error(session, e),
            name="login",
        )

    def _new_session(self, request: LoginRequest, on_event: Callable[[SessionEvent], None]) -> SessionHandle:
        # Settings are passed only when given: a session factory may take its own defaults.
        if self._settings is None:
            return self._factory(request, pin_callback=self.pin_bridge, on_event=on_event)
        return self._factory(
            request, pin_callback=self.pin_bridge, on_event=on_event, settings=self._settings
        )

    def _what_to_remember(self, request: LoginRequest) -> LoginToRemember | None:
        w = self.window
        if not w.remember_check.isChecked():
            return None
        from app.ui.remember import LoginToRemember

        secret = Secret(w.secret_edit.text()) if w.remember_secret_check.isChecked() else None
        return LoginToRemember(
            method=request.credentials.method.value,
            identity=request.credentials.identity,
            region=request.region if request.endpoint is None else None,
            endpoint=request.endpoint,
            password=secret,
            certificate=_certificate_to_remember(w.certificate),
        )

    def cancel_login(self) -> None:
        """Stop a login in progress (the session cancels at its next step; a PIN prompt is closed)."""
        session = self.current.session
        if session is None or self.current.info is not None:
            return
        self.window.set_busy(True, self.tr("Cancelling..."))
        self.pin_bridge.cancel_all()
        self.control.submit(lambda: session.logout(EndReason.LOGOUT), name="cancel-login")

    def _pin_asked(self, request: object) -> None:
        if self.current.session is not None and self.current.info is None and self.window.busy:
            self.window.set_busy(True, self.tr("Server verified. Waiting for the card's PIN..."))

    def _login_done(self, session: SessionHandle, info: SessionInfo) -> None:
        self.pin_bridge.close_keypad_prompt()
        self.pin_bridge.settle()
        if session is not self.current.session:
            return
        self.current.info = info
        w = self.window
        w.set_busy(False)
        w.clear_secret()
        pending, self._remember_pending = self._remember_pending, None
        if pending is not None and self._use_keyring:
            from app.ui import remember

            self.net.submit(lambda: remember.save_login(pending), self._remember_saved, name="keyring-save")
        elif self._use_keyring and w.identity_edit.text():
            from app.ui import remember

            self.net.submit(remember.forget, name="keyring-forget")
        self.logged_in.emit(info)

    def _remember_saved(self, problem: str | None) -> None:
        if problem:
            self.remember_failed.emit(problem)

    def _login_error(self, session: SessionHandle, e: BaseException) -> None:
        self.pin_bridge.close_keypad_prompt()
        self.pin_bridge.settle()
        if session is self.current.session:
            self.current.session = None
        self._remember_pending = None
        w = self.window
        w.set_busy(False)
        from app.session.errors import LoginCancelled
        from app.tokens.errors import PinCancelled

        self._last_failure = e
        if isinstance(e, LoginCancelled | PinCancelled):
            w.show_message(
                self.tr("Login cancelled"), self.tr("Nothing was changed on the account."), warning=False
            )
        else:
            w.show_message(*self._words(e))
            self._focus_for(e)
        self.login_failed.emit(e)

    def _words(self, e: BaseException) -> tuple[str, str]:
        """describe(e); a refused login names the method used and the Region (an account lives in one)."""
        from app.session.errors import AuthenticationFailed

        title, text = describe(e)
        request = self._attempt
        if isinstance(e, AuthenticationFailed) and request is not None:
            where = request.endpoint or request.region
            if request.credentials.method is AuthMethod.PASSWORD:
                text = self.tr("The login and password were refused by %1. An account lives in one Region: "
                               "check the Region, then the password; after four failures the account is "
                               "locked for a minute.").replace("%1", where)
            else:
                text = self.tr("The access key and secret key were refused by %1. An account lives in one "
                               "Region: check the Region, then the keys.").replace("%1", where)
        return title, text

    def _focus_for(self, e: BaseException) -> None:
        """Focus the field to fix: the secret after a refused login, the Region or endpoint after a
        server that cannot be reached or trusted."""
        from app.session.errors import AuthenticationFailed, EndpointUnreachable, ServerNotTrusted

        w = self.window
        if isinstance(e, AuthenticationFailed):
            w.secret_edit.setFocus()
            w.secret_edit.selectAll()
        elif isinstance(e, EndpointUnreachable | ServerNotTrusted):
            (w.endpoint_edit if w.endpoint_edit.isVisible() else w.region_combo).setFocus()


def _card_absent() -> type[BaseException]:
    from app.tokens.errors import TokenNotPresent

    return TokenNotPresent


def _card_module(request: LoginRequest) -> str | None:
    """The PKCS#11 module of a card login (None for a file certificate or when none is named)."""
    choice = request.certificate
    if choice is None or not choice.is_card:
        return None
    if choice.entry is not None and choice.entry.module_path:
        return choice.entry.module_path
    return choice.module_path


def certificate_of_profile(p: OscProfile) -> PickedCertificate | None:
    """The certificate an osc profile names (x509_client_cert, or a card URI in x509_client_key)."""
    ref = p.certificate_ref
    if not ref:
        return None
    if ref.startswith("pkcs11:"):
        from app.tokens.uri import Pkcs11Uri, UriError

        try:
            uri = Pkcs11Uri.parse(ref)
        except UriError:
            return PickedCertificate(CertificateChoice(ref), ref, "")
        title = uri.object or (uri.id.hex() if uri.id else "") or ref
        where = uri.token or uri.serial or ""
        return PickedCertificate(CertificateChoice(ref), title, f"Card: {where}" if where else "")
    return PickedCertificate(CertificateChoice(ref), Path(ref).name, ref)


def _certificate_to_remember(picked: PickedCertificate | None) -> RememberedCertificate | None:
    # A file that needs a password is not remembered: its password never is, and a prefilled
    # certificate that then fails to open would only confuse.
    if picked is None or picked.choice.file_password is not None:
        return None
    return (picked.choice.ref, picked.choice.module_path, picked.title, picked.detail)


def _certificate_from_memory(value: RememberedCertificate | None) -> PickedCertificate | None:
    if not value:
        return None
    ref, module_path, title, detail = value
    return PickedCertificate(CertificateChoice(ref, module_path=module_path), title, detail)
