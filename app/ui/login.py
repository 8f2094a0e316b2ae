"""The login window: method, credentials, Region or custom endpoint, certificate, remember my login."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret
from app.session.regions import DEFAULT_REGION, REGION_LABELS, REGIONS

if TYPE_CHECKING:
    from PySide6.QtGui import QCloseEvent, QKeyEvent, QShowEvent

CUSTOM = "__custom__"
KEY_ESCAPE = 0x01000000  # Qt.Key.Key_Escape


@dataclass(frozen=True)
class PickedCertificate:
    """A certificate chosen in the picker: what to log in with, and how to name it on screen."""

    choice: CertificateChoice = field(repr=False)
    title: str  # e.g. the subject's common name
    detail: str  # e.g. "card Demo card (SoftHSM)" or the file name


@dataclass(frozen=True)
class LoginPrefill:
    """Values to put in the form (profile, remembered login, demo). The secret is demo-only."""

    method: AuthMethod = AuthMethod.PASSWORD
    identity: str = ""
    secret: str | None = field(default=None, repr=False)
    region: str | None = None
    endpoint: str | None = None
    ca_file: str | None = None
    certificate: PickedCertificate | None = None
    remember: bool = False
    remember_secret: bool = False
    note: str | None = None  # a line shown above the form (e.g. "Demo: sandbox API on ...")
    grace_override_seconds: float | None = None  # demo/tests: end sooner after a removal
    profile: str | None = None  # the osc profile these values came from (shown in the selector)


class LoginWindow(QWidget):
    """The first window. Emits `login_requested` with a complete LoginRequest; never does I/O itself."""

    login_requested = Signal(object)  # LoginRequest
    choose_certificate = Signal()  # the controller opens the picker and calls set_certificate()
    settings_requested = Signal()
    profile_selected = Signal(str)  # the controller reads the profile and calls prefill()
    cancel_requested = Signal()
    mfa_setup_requested = Signal(object)  # LoginRequest: open the certificate-login set-up for it
    shown = Signal()  # emitted from the show event (start-up benchmark, selftest)
    closed = Signal()  # the user closed the window (the application quits when no session runs)

    def __init__(self, parent: QWidget | None = None, *, profiles: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        self.setObjectName("LoginWindow")
        self.setWindowTitle(self.tr("Log in"))  # the window manager appends the application's name
        self.certificate: PickedCertificate | None = None
        self.ca_file: str | None = None
        self.grace_override_seconds: float | None = None
        self._pending_login = False  # Login pressed without a certificate: continue once one is chosen
        self._busy = False
        self._build(profiles)
        self._update_method()
        self._update_region()

    # -- layout ---------------------------------------------------------------------------------------

    def _build(self, profiles: tuple[str, ...]) -> None:
        root = QVBoxLayout(self)
        self._build_header(root)
        grid = QGridLayout()
        row = self._build_profile_row(grid, 0, profiles)
        row = self._build_method_row(grid, row)
        row = self._build_credential_rows(grid, row)
        row = self._build_region_rows(grid, row)
        row = self._build_certificate_row(grid, row)
        self._build_remember_rows(grid, row)
        grid.setColumnStretch(1, 1)
        root.addLayout(grid)
        root.addStretch(1)  # a window taller than its form keeps the form together at the top
        self._build_progress(root)
        self._build_buttons(root)
        self._connect_and_order()
        self.setMinimumWidth(520)
        self._grow: QObject | None = None  # GrowToContent, installed after the first show (start-up time)

    def _build_header(self, root: QVBoxLayout) -> None:
        title = QLabel(self.tr("Log in to OUTSCALE with your certificate"))
        title.setObjectName("title")
        root.addWidget(title)

        self.note = QLabel()
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        self.note.setAccessibleName(self.tr("Note"))
        self.note.hide()
        root.addWidget(self.note)

        self.message = QLabel()  # the reason a session ended, or a login error, in plain words
        self.message.setObjectName("messageBox")
        self.message.setWordWrap(True)
        self.message.setAccessibleName(self.tr("Message"))
        self.message.hide()
        root.addWidget(self.message)

    def _build_profile_row(self, grid: QGridLayout, row: int, profiles: tuple[str, ...]) -> int:
        self.profile_combo = QComboBox()
        self.profile_combo.setObjectName("profileCombo")
        # Item data is kept in Python lists: QComboBox's QVariant user data costs ~30 ms of PySide
        # type set-up at start-up (measured with bench/startup.py).
        self._profiles = ["", *profiles]
        self.profile_combo.addItem(self.tr("(none)"))
        for p in profiles:
            self.profile_combo.addItem(p)
        profile_label = QLabel(self.tr("osc pro&file:"))
        profile_label.setBuddy(self.profile_combo)
        grid.addWidget(profile_label, row, 0)
        grid.addWidget(self.profile_combo, row, 1)
        self.profile_combo.activated.connect(self._profile_activated)
        self._profile_row = (profile_label, self.profile_combo)
        if not profiles:
            profile_label.hide()
            self.profile_combo.hide()
        return row + 1

    def _build_method_row(self, grid: QGridLayout, row: int) -> int:
        self.method_password = QRadioButton(self.tr("Login and pass&word"))
        self.method_password.setObjectName("methodPassword")
        self.method_key = QRadioButton(self.tr("Access &key and secret key"))
        self.method_key.setObjectName("methodKey")
        self.method_password.setChecked(True)
        self._method_group = QButtonGroup(self)
        self._method_group.addButton(self.method_password)
        self._method_group.addButton(self.method_key)
        method_box = QHBoxLayout()
        method_box.addWidget(self.method_password)
        method_box.addWidget(self.method_key)
        method_box.addStretch(1)
        grid.addWidget(QLabel(self.tr("Method:")), row, 0)
        grid.addLayout(method_box, row, 1)
        self.method_password.toggled.connect(self._update_method)
        return row + 1

    def _build_credential_rows(self, grid: QGridLayout, row: int) -> int:
        self.identity_edit = QLineEdit()
        self.identity_edit.setObjectName("identityEdit")
        self.identity_label = QLabel()
        self.identity_label.setBuddy(self.identity_edit)
        self.identity_error = _error_label("identityError")
        grid.addWidget(self.identity_label, row, 0)
        grid.addWidget(self.identity_edit, row, 1)
        grid.addWidget(self.identity_error, row + 1, 1)
        row += 2

        self.secret_edit = QLineEdit()
        self.secret_edit.setObjectName("secretEdit")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        # Password echo mode also tells input methods the text is hidden and sensitive (no prediction).
        self.secret_label = QLabel()
        self.secret_label.setBuddy(self.secret_edit)
        self.secret_error = _error_label("secretError")
        grid.addWidget(self.secret_label, row, 0)
        grid.addWidget(self.secret_edit, row, 1)
        grid.addWidget(self.secret_error, row + 1, 1)
        return row + 2

    def _build_region_rows(self, grid: QGridLayout, row: int) -> int:
        self.region_combo = QComboBox()
        self.region_combo.setObjectName("regionCombo")
        names = {  # the session layer's labels, in the user's language
            "ap-northeast-1": self.tr("Tokyo (ap-northeast-1)"),
            "cloudgouv-eu-west-1": self.tr("France, SecNumCloud (cloudgouv-eu-west-1)"),
            "eu-west-2": self.tr("France (eu-west-2)"),
            "us-east-2": self.tr("United States East (us-east-2)"),
            "us-west-1": self.tr("United States West (us-west-1)"),
        }
        for r in REGIONS:
            self.region_combo.addItem(names.get(r) or REGION_LABELS.get(r, r))
        self.region_combo.addItem(self.tr("Custom endpoint..."))
        self._regions = [*REGIONS, CUSTOM]
        self.region_combo.setCurrentIndex(REGIONS.index(DEFAULT_REGION))
        region_label = QLabel(self.tr("&Region:"))
        region_label.setBuddy(self.region_combo)
        grid.addWidget(region_label, row, 0)
        grid.addWidget(self.region_combo, row, 1)
        self.region_combo.currentIndexChanged.connect(self._update_region)
        row += 1

        self.endpoint_edit = QLineEdit()
        self.endpoint_edit.setObjectName("endpointEdit")
        self.endpoint_edit.setPlaceholderText("https://api.example.com/api/v1")
        self.endpoint_label = QLabel(self.tr("Endpoin&t:"))
        self.endpoint_label.setBuddy(self.endpoint_edit)
        self.endpoint_error = _error_label("endpointError")
        grid.addWidget(self.endpoint_label, row, 0)
        grid.addWidget(self.endpoint_edit, row, 1)
        grid.addWidget(self.endpoint_error, row + 1, 1)
        return row + 2

    def _build_certificate_row(self, grid: QGridLayout, row: int) -> int:
        self.cert_value = QLabel(self.tr("No certificate chosen"))
        self.cert_value.setObjectName("certificateValue")
        self.cert_value.setWordWrap(True)
        self.cert_button = QPushButton(self.tr("C&hoose..."))
        self.cert_button.setObjectName("chooseCertificate")
        self.cert_button.clicked.connect(self._choose_clicked)
        cert_box = QHBoxLayout()
        cert_box.addWidget(self.cert_value, 1)
        cert_box.addWidget(self.cert_button)
        cert_label = QLabel(self.tr("Certificate:"))
        cert_label.setBuddy(self.cert_button)
        self.cert_error = _error_label("certificateError")
        grid.addWidget(cert_label, row, 0)
        grid.addLayout(cert_box, row, 1)
        grid.addWidget(self.cert_error, row + 1, 1)
        return row + 2

    def _build_remember_rows(self, grid: QGridLayout, row: int) -> None:
        self.remember_check = QCheckBox(self.tr("Re&member my login on this computer"))
        self.remember_check.setObjectName("rememberCheck")
        self.remember_secret_check = QCheckBox(self.tr("Also remember the password (in the system ke&yring)"))
        self.remember_secret_check.setObjectName("rememberSecretCheck")
        self.remember_secret_check.setEnabled(False)
        self.remember_check.toggled.connect(self._remember_toggled)
        grid.addWidget(self.remember_check, row, 1)
        grid.addWidget(self.remember_secret_check, row + 1, 1)

    def _build_progress(self, root: QVBoxLayout) -> None:
        self.progress = QProgressBar()
        self.progress.setObjectName("busy")
        self.progress.setRange(0, 0)  # indeterminate: we cannot know how long a card or server takes
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        root.addWidget(self.progress)
        root.addWidget(self.status)

    def _build_buttons(self, root: QVBoxLayout) -> None:
        buttons = QHBoxLayout()
        self.settings_button = QPushButton(self.tr("&Settings..."))
        self.settings_button.setObjectName("settingsButton")
        self.settings_button.setAutoDefault(False)
        self.settings_button.clicked.connect(self.settings_requested)
        self.cancel_button = QPushButton(self.tr("&Cancel"))
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.hide()
        self.login_button = QPushButton(self.tr("Log i&n"))
        self.login_button.setObjectName("loginButton")
        self.login_button.setDefault(True)
        self.login_button.setAutoDefault(True)
        self.login_button.clicked.connect(self.submit)
        self.mfa_button = QPushButton(self.tr("Set up certificate l&ogin for this account..."))
        self.mfa_button.setObjectName("mfaSetupButton")
        self.mfa_button.setAutoDefault(False)
        self.mfa_button.clicked.connect(self._mfa_clicked)
        buttons.addWidget(self.settings_button)
        buttons.addWidget(self.mfa_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.login_button)
        root.addLayout(buttons)

    def _connect_and_order(self) -> None:
        # Return in any field logs in (a QWidget window has no default-button handling of its own).
        for edit in (self.identity_edit, self.secret_edit, self.endpoint_edit):
            edit.returnPressed.connect(self.submit)

        order = [
            self.profile_combo,
            self.method_password,
            self.method_key,
            self.identity_edit,
            self.secret_edit,
            self.region_combo,
            self.endpoint_edit,
            self.cert_button,
            self.remember_check,
            self.remember_secret_check,
            self.settings_button,
            self.cancel_button,
            self.login_button,
        ]
        for a, b in itertools.pairwise(order):
            QWidget.setTabOrder(a, b)

    # -- behaviour ------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._grow is None:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self._install_grow)
        self.shown.emit()
        if not self.identity_edit.text():
            self.identity_edit.setFocus()
        elif not self.secret_edit.text():
            self.secret_edit.setFocus()
        else:
            self.login_button.setFocus()

    def _install_grow(self) -> None:
        """A longer certificate line or message never gets clipped: the window grows with its labels."""
        from app.ui.fit import GrowToContent, grow_to_content

        if self._grow is None:
            self._grow = GrowToContent(self)
            grow_to_content(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._busy:
            self.cancel_requested.emit()
        super().closeEvent(event)
        self.closed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Escape cancels a login in progress. Compared as an int: touching PySide6's `Qt` namespace
        # costs ~20 ms of enum set-up, which the window's start-up does not pay (bench/startup.py).
        if event.key() == KEY_ESCAPE and self._busy:
            self.cancel_requested.emit()
            return
        super().keyPressEvent(event)

    def method(self) -> AuthMethod:
        """The chosen authentication method."""
        return AuthMethod.PASSWORD if self.method_password.isChecked() else AuthMethod.ACCESS_KEY

    def _update_method(self) -> None:
        if self.method() is AuthMethod.PASSWORD:
            self.identity_label.setText(self.tr("&Login:"))
            self.identity_edit.setPlaceholderText(self.tr("email, or AccountId/user for EIM users"))
            self.secret_label.setText(self.tr("&Password:"))
            self.remember_secret_check.setText(self.tr("Also remember the password (in the system ke&yring)"))
        else:
            self.identity_label.setText(self.tr("&Access key:"))
            self.identity_edit.setPlaceholderText("")
            self.secret_label.setText(self.tr("S&ecret key:"))
            self.remember_secret_check.setText(
                self.tr("Also remember the secret key (in the system ke&yring)")
            )

    def _update_region(self) -> None:
        custom = self.region_code() == CUSTOM
        self.endpoint_label.setVisible(custom)
        self.endpoint_edit.setVisible(custom)
        if not custom:
            self.endpoint_error.hide()

    def region_code(self) -> str:
        """The chosen Region, or CUSTOM for a custom endpoint."""
        i = self.region_combo.currentIndex()
        return self._regions[i] if 0 <= i < len(self._regions) else DEFAULT_REGION

    def _remember_toggled(self, on: bool) -> None:
        self.remember_secret_check.setEnabled(on)
        if not on:
            self.remember_secret_check.setChecked(False)

    def _profile_activated(self, index: int) -> None:
        name = self._profiles[index] if 0 <= index < len(self._profiles) else ""
        if name:
            self.profile_selected.emit(name)

    def _choose_clicked(self) -> None:
        self._pending_login = False
        self.choose_certificate.emit()

    def set_certificate(self, picked: PickedCertificate | None) -> None:
        """Show the chosen certificate; continue a Login that was waiting for it."""
        self.certificate = picked
        if picked is None:
            self.cert_value.setText(self.tr("No certificate chosen"))
            self._pending_login = False
            return
        self.cert_value.setText(f"<b>{_html(picked.title)}</b><br>{_html(picked.detail)}")
        self.cert_error.hide()
        if self._pending_login:
            self._pending_login = False
            self.submit()

    def prefill(self, values: LoginPrefill) -> None:
        """Fill the form (profile, remembered login, demo)."""
        (self.method_password if values.method is AuthMethod.PASSWORD else self.method_key).setChecked(True)
        self.identity_edit.setText(values.identity)
        if values.secret is not None:
            self.secret_edit.setText(values.secret)
        if values.endpoint:
            self.region_combo.setCurrentIndex(self._regions.index(CUSTOM))
            self.endpoint_edit.setText(values.endpoint)
        elif values.region in REGIONS:
            self.region_combo.setCurrentIndex(self._regions.index(values.region))
        if values.ca_file is not None:
            self.ca_file = values.ca_file
        if values.grace_override_seconds is not None:
            self.grace_override_seconds = values.grace_override_seconds
        if values.certificate is not None:
            self.set_certificate(values.certificate)
        self.remember_check.setChecked(values.remember)
        self.remember_secret_check.setChecked(values.remember and values.remember_secret)
        if values.note:
            self.note.setText(values.note)
            self.note.show()
        if values.profile is not None and values.profile in self._profiles:
            self.profile_combo.setCurrentIndex(self._profiles.index(values.profile))

    def show_message(self, title: str, text: str, *, warning: bool = True) -> None:
        """Show why the last session ended or the last login failed (warning=False: plain news)."""
        from PySide6.QtCore import Qt

        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setText(f"<b>{_html(title)}</b><br>{_html(text)}")
        # a screen reader announces the box by its name and reads the plain words, not the markup
        self.message.setAccessibleName(title)
        self.message.setAccessibleDescription(text)
        self.message.setProperty("kind", "warning" if warning else "info")
        # A dynamic property only restyles after a re-polish.
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.show()

    def clear_message(self) -> None:
        """Hide the message box."""
        self.message.hide()
        self.message.clear()

    def set_busy(self, busy: bool, status: str = "") -> None:
        """Login in progress: the form is read-only, Cancel is offered."""
        self._busy = busy
        for w in (
            self.profile_combo,
            self.method_password,
            self.method_key,
            self.identity_edit,
            self.secret_edit,
            self.region_combo,
            self.endpoint_edit,
            self.cert_button,
            self.remember_check,
            self.settings_button,
            self.login_button,
        ):
            w.setEnabled(not busy)
        self.remember_secret_check.setEnabled(not busy and self.remember_check.isChecked())
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        # Cancel takes the set-up button's place while logging in: the row keeps its width (at 800x600
        # and in French the set-up button's text was cut otherwise)
        self.mfa_button.setVisible(not busy)
        self.status.setText(status)
        self.login_button.setText(self.tr("Logging in...") if busy else self.tr("Log i&n"))

    @property
    def busy(self) -> bool:
        """Whether a login is in progress."""
        return self._busy

    def clear_secret(self) -> None:
        """Forget the typed password or secret key (after a login, or when a session ends)."""
        self.secret_edit.clear()

    def validate(self) -> bool:
        """Check the form; shows messages next to the fields. True when a login can start."""
        ok = True
        identity = self.identity_edit.text().strip()
        for lbl in (self.identity_error, self.secret_error, self.endpoint_error, self.cert_error):
            lbl.hide()
        if not identity:
            _show(
                self.identity_error,
                self.tr("Type your login.")
                if self.method() is AuthMethod.PASSWORD
                else self.tr("Type your access key."),
            )
            ok = False
        elif self.method() is AuthMethod.ACCESS_KEY and not _ACCESS_KEY.fullmatch(identity):
            # OUTSCALE's shape (not AWS's AKIA...), and the check matches its own words
            _show(self.identity_error, self.tr("An access key is 20 capital letters and digits "
                                               "(e.g. 3FJ6KQ0TW2DN8XSP5R7B)."))
            ok = False
        if not self.secret_edit.text():
            _show(
                self.secret_error,
                self.tr("Type your password.")
                if self.method() is AuthMethod.PASSWORD
                else self.tr("Type your secret key."),
            )
            ok = False
        if self.region_code() == CUSTOM:
            url = self.endpoint_edit.text().strip()
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                # Plain http would send credentials in clear and defeat the certificate check.
                _show(
                    self.endpoint_error,
                    self.tr("Type an https:// address, e.g. https://api.example.com/api/v1."),
                )
                ok = False
        return ok

    def build_request(self) -> LoginRequest:
        """The LoginRequest for the current form (call validate() first)."""
        custom = self.region_code() == CUSTOM
        endpoint = self.endpoint_edit.text().strip() if custom else None
        region = DEFAULT_REGION if custom else self.region_code()
        if custom and endpoint:
            # A custom endpoint of a known Region (api.<region>.outscale.com) keeps its Region for signing.
            host = urlsplit(endpoint).hostname or ""
            for r in REGIONS:
                if f".{r}." in f".{host}.":
                    region = r
        return LoginRequest(
            credentials=Credentials(
                self.method(), self.identity_edit.text().strip(), Secret(self.secret_edit.text())
            ),
            region=region,
            endpoint=endpoint,
            certificate=self.certificate.choice if self.certificate else None,
            ca_file=self.ca_file,
            grace_override_seconds=self.grace_override_seconds,
        )

    def _mfa_clicked(self) -> None:
        """The set-up button: the same form as a login (credentials and certificate), then the dialog."""
        self.clear_message()
        if self._busy or not self.validate():
            return
        if self.certificate is None:
            self.show_message(self.tr("Choose a certificate"),
                              self.tr("Choose the certificate (card or file) to set up login with first."))
            return
        self.mfa_setup_requested.emit(self.build_request())

    def submit(self) -> None:
        """The Login button: validate, ask for a certificate if none is chosen, then emit the request."""
        if self._busy:
            return
        self.clear_message()
        if not self.validate():
            return
        if self.certificate is None:
            self._pending_login = True
            self.choose_certificate.emit()
            return
        self.login_requested.emit(self.build_request())


_ACCESS_KEY = re.compile(r"[A-Z0-9]{20}")


def _error_label(name: str) -> QLabel:
    lbl = QLabel()
    lbl.setObjectName(name)
    lbl.setProperty("role", "fieldError")
    lbl.setWordWrap(True)
    lbl.hide()
    return lbl


def _show(label: QLabel, text: str) -> None:
    label.setText(text)
    label.show()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
