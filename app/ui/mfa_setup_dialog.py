"""The guided certificate-login set-up (issue 17): the account as it is, the proposed change, apply with
proof and rollback, and removal, all run by app.session.setup on a worker of the dialog's own.

Opened from the login window ("Set up certificate login for this account...") and from the session
window, with the login form's request; when the form no longer holds the password (after a login), the
dialog asks for it. The card is opened once (its PIN through the app's PIN bridge) and closed with the
dialog; a card the live session holds shares its login, so closing here does not log the session out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.session.model import AuthMethod, Credentials, LoginRequest, Secret
from app.ui.workers import Worker

if TYPE_CHECKING:
    from app.session.ports import OpenedCertificate
    from app.session.setup import SetupPlan, SetupReport
    from app.tokens.pin import PinCallback


def _needs_secret(request: LoginRequest) -> bool:
    s = request.credentials.secret
    return s.wiped or not s.reveal()


class MfaSetupDialog(QDialog):
    """Check the account, see the plan, apply it (proved, verified, undone on failure) or remove it."""

    planned = Signal(object)  # SetupPlan, or None when the check failed
    run_finished = Signal(object)  # SetupReport, or None when the run could not start
    step_done = Signal(object)  # Step, emitted from the worker while a run goes on (shown as it comes)

    def __init__(self, request: LoginRequest, pin_callback: PinCallback, parent: QWidget | None = None,
                 *, open_certificate: Callable[[LoginRequest, PinCallback], OpenedCertificate] | None = None,
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("MfaSetupDialog")
        self.setWindowTitle(self.tr("Set up certificate login"))
        self.setMinimumWidth(620)
        self._request = request
        self._pins = pin_callback
        self._open_certificate = open_certificate
        self._opened: OpenedCertificate | None = None
        self._plan: SetupPlan | None = None
        self._busy = False
        self.released = False  # the certificate was let go and the worker stopped (after closing)
        self.worker = Worker("mfa-setup", self)
        self.step_done.connect(self._show_step)  # queued: emitted on the worker thread
        self._build()

    # -- layout -----------------------------------------------------------------------------------------

    def _build(self) -> None:
        root = QVBoxLayout(self)
        r = self._request
        cert = r.certificate.ref if r.certificate else self.tr("none chosen")
        self.who_label = QLabel(self.tr("Account: %1 at %2. Certificate: %3.")
                                .replace("%1", r.credentials.identity)
                                .replace("%2", r.endpoint or r.region).replace("%3", cert))
        self.who_label.setWordWrap(True)
        root.addWidget(self.who_label)
        form = QFormLayout()
        self.secret_edit = QLineEdit()
        self.secret_edit.setObjectName("mfaSecretEdit")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        if _needs_secret(r):
            is_password = r.credentials.method is AuthMethod.PASSWORD
            label = self.tr("Password") if is_password else self.tr("Secret key")
            form.addRow(label, self.secret_edit)
        else:
            self.secret_edit.hide()
        issuer_row = QHBoxLayout()
        self.issuer_edit = QLineEdit()
        self.issuer_edit.setPlaceholderText(self.tr("only if the card or file holds just your certificate"))
        self.issuer_button = QPushButton(self.tr("&Browse..."))
        self.issuer_button.clicked.connect(self._browse_issuer)
        issuer_row.addWidget(self.issuer_edit)
        issuer_row.addWidget(self.issuer_button)
        form.addRow(self.tr("Issuer CA file"), issuer_row)
        self.cn_check = QCheckBox(
            self.tr("Allow only this certificate's name (CN), not every certificate of the CA"))
        self.cn_check.setChecked(True)
        self.keep_ip_check = QCheckBox(
            self.tr("Keep the IP-only rules (the certificate is then not required)"))
        trusted_row = QHBoxLayout()
        self.trusted_check = QCheckBox(self.tr("Activate a trusted session; keys live at most"))
        self.trusted_hours = QSpinBox()
        self.trusted_hours.setRange(1, 24 * 365)
        self.trusted_hours.setValue(12)
        self.trusted_hours.setSuffix(self.tr(" h"))
        trusted_row.addWidget(self.trusted_check)
        trusted_row.addWidget(self.trusted_hours)
        trusted_row.addStretch(1)
        form.addRow(self.cn_check)
        form.addRow(self.keep_ip_check)
        form.addRow(trusted_row)
        root.addLayout(form)
        self.text = QPlainTextEdit()
        self.text.setObjectName("mfaReport")
        self.text.setReadOnly(True)
        self.text.setMinimumHeight(260)
        root.addWidget(self.text)
        root.addLayout(self._build_buttons())

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.check_button = QPushButton(self.tr("&Check the account"))
        self.apply_button = QPushButton(self.tr("&Apply"))
        self.apply_button.setEnabled(False)
        self.remove_button = QPushButton(self.tr("&Remove a previous set-up"))
        self.close_button = QPushButton(self.tr("Close"))
        self.check_button.clicked.connect(self.check)
        self.apply_button.clicked.connect(self.apply)
        self.remove_button.clicked.connect(self.remove)
        self.close_button.clicked.connect(self.reject)
        for b in (self.check_button, self.apply_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.close_button)
        return row

    def _browse_issuer(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("The CA that issued your certificate"), "",
                                              self.tr("Certificates (*.pem *.crt *.cer);;All files (*)"))
        if path:
            self.issuer_edit.setText(path)

    # -- state ------------------------------------------------------------------------------------------

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        for b in (self.check_button, self.remove_button, self.close_button):
            b.setEnabled(not busy)
        self.apply_button.setEnabled(not busy and self._plan is not None and self._plan.ok
                                     and self._plan.changes_anything)
        if text:
            self.text.setPlainText(text)

    def _request_now(self) -> LoginRequest:
        r = self._request
        if self.secret_edit.isHidden():
            return r
        creds = Credentials(r.credentials.method, r.credentials.identity, Secret(self.secret_edit.text()))
        return replace(r, credentials=creds)

    def _options(self) -> Any:
        from app.session.setup import SetupOptions

        hours = self.trusted_hours.value() if self.trusted_check.isChecked() else None
        return SetupOptions(pin_cn=self.cn_check.isChecked(), keep_ip_rules=self.keep_ip_check.isChecked(),
                            trusted_session_seconds=hours * 3600 if hours else None)

    # -- work (on the dialog's worker) ------------------------------------------------------------------

    def _connector(self, request: LoginRequest) -> Any:
        """Open the certificate once (worker thread: the PIN comes through the bridge) and connect."""
        from app.session.regions import resolve_endpoint
        from app.session.setup import MtlsConnector

        if self._opened is None:
            if self._open_certificate is None:
                from app.session.backend import RealBackend

                self._open_certificate = RealBackend().open_certificate
            self._opened = self._open_certificate(request, self._pins)
        return MtlsConnector(self._opened.signer, resolve_endpoint(request.region, request.endpoint),
                             request.credentials, ca_file=request.ca_file)

    def check(self) -> None:
        """Read the account and propose the change."""
        from app.session.setup import Runner, load_pem_certificates

        request, options, issuer = self._request_now(), self._options(), self.issuer_edit.text().strip()
        self._plan = None
        self._set_busy(True, self.tr("Reading the account..."))

        def job() -> SetupPlan:
            connector = self._connector(request)
            certs = []
            if issuer:
                with open(issuer, "rb") as f:
                    certs = load_pem_certificates(f.read())
            return Runner(connector).plan(connector.signer, options, certs)

        self.worker.submit(job, self._planned, self._check_failed, name="mfa-plan")

    def _planned(self, plan: SetupPlan) -> None:
        from app.session.setup import describe_account

        self._plan = plan
        assert plan.snapshot is not None
        lines = [self.tr("The account now:")] + ["  " + s for s in describe_account(plan.snapshot)]
        lines += ["", self.tr("The plan:")] + ["  " + s for s in plan.steps()]
        if plan.notes:
            lines += ["", self.tr("What it means:")] + ["  " + s for s in plan.notes]
        if plan.problems:
            lines += ["", self.tr("Cannot be applied (nothing was changed):")]
            lines += ["  " + s for s in plan.problems]
        elif not plan.changes_anything:
            lines += ["", self.tr("Everything is already in place.")]
        self._set_busy(False, "\n".join(lines))
        self.planned.emit(plan)

    def _check_failed(self, e: BaseException) -> None:
        self._set_busy(False, self.tr("Nothing was changed. %1").replace("%1", _words(e)))
        self.planned.emit(None)

    def apply(self) -> None:
        """Apply the plan shown (proved, verified, undone on failure)."""
        from app.session.setup import Runner

        plan, request = self._plan, self._request_now()
        if plan is None or not plan.ok:
            return
        self._set_busy(True, self.tr("Applying: proving each step with your certificate..."))
        self.apply_button.setEnabled(False)
        self.worker.submit(lambda: Runner(self._connector(request), on_step=self.step_done.emit).apply(plan),
                           self._finished, self._run_failed, name="mfa-apply")

    def remove(self) -> None:
        """Undo what previous set-ups created (a certificate-free way in is restored and proved first)."""
        from app.session.setup import Remover

        request = self._request_now()
        self._plan = None
        self._set_busy(True, self.tr("Removing the previous set-up..."))
        self.worker.submit(lambda: Remover(self._connector(request), on_step=self.step_done.emit).remove(),
                           self._finished, self._run_failed, name="mfa-remove")

    def _show_step(self, step: Any) -> None:
        self.text.appendPlainText(("ok     " if step.ok else "FAILED ") + step.name)

    def _finished(self, report: SetupReport) -> None:
        self._plan = None
        self._set_busy(False, "\n".join(report.lines()))
        self.run_finished.emit(report)

    def _run_failed(self, e: BaseException) -> None:
        self._plan = None
        self._set_busy(False, self.tr("Nothing was changed. %1").replace("%1", _words(e)))
        self.run_finished.emit(None)

    def reject(self) -> None:
        """Close, unless a run is going on (leaving then could hide a half-done change)."""
        if self._busy:
            self.text.appendPlainText(self.tr("Still working: wait for the end (the account is changing)."))
            return
        super().reject()

    def done(self, result: int) -> None:
        """Close: release the certificate on the worker, then stop it (the UI never waits on the card)."""
        opened, self._opened = self._opened, None
        if opened is None:
            self._stop_worker()
        else:
            from app.session.backend import RealBackend

            def release() -> None:
                RealBackend().release_certificate(opened)

            self.worker.submit(release, lambda _: self._stop_worker(), lambda _e: self._stop_worker(),
                               name="mfa-release")
        super().done(result)

    def _stop_worker(self) -> None:
        self.worker.stop()
        self.released = True


def _words(e: BaseException) -> str:
    """An error in plain words: the set-up's own wording for API and set-up errors, the UI's otherwise."""
    from app.session.errors import SessionError
    from app.session.setup import explain
    from app.ui.errors import describe

    if isinstance(e, SessionError):
        return explain(e)
    title, text = describe(e)
    return f"{title}: {text}"
