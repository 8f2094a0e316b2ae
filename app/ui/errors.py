"""The one place that turns a typed error of the core into a title and plain words for the operator."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.session import errors as se
from app.session.model import EndReason
from app.tokens import errors as te

_CTX = "describe"


def _t(text: str) -> str:
    # A module-level function has no QObject.tr(); translate() with a fixed context is what lupdate reads.
    return QCoreApplication.translate(_CTX, text)


def _card(e: BaseException) -> str:
    label = getattr(e, "token_label", None)
    return label or _t("the card")


def _minutes(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def describe(error: BaseException) -> tuple[str, str]:
    """A (title, text) pair in the current language for any error the core can raise."""
    e = error
    # --- token layer: the most specific classes first (PinIncorrect before TokenError, etc.) ---
    if isinstance(e, te.PinIncorrect):
        text = _t(
            "The PIN of %1 is incorrect. Type it again carefully; it is never retried for you."
        ).replace("%1", _card(e))
        if e.final_try or e.tries_left == 1:
            text += " " + _t("Warning: one more wrong PIN will lock the card.")
        elif e.tries_left is not None:
            text += " " + _t("Tries left: %1.").replace("%1", str(e.tries_left))
        return _t("Wrong PIN"), text
    if isinstance(e, te.PinLocked):
        return _t("Card locked"), _t(
            "The PIN of %1 is blocked after too many wrong tries. The card cannot be used until an "
            "administrator unblocks it with the PUK or SO PIN. Contact your security officer."
        ).replace("%1", _card(e))
    if isinstance(e, te.PinInvalid):
        return _t("PIN not accepted"), _t(
            "The card does not accept a PIN of this length or with these characters. This did not "
            "count as a try."
        )
    if isinstance(e, te.PinCancelled):
        return _t("Cancelled"), _t("The PIN was not entered, so the login was cancelled.")
    if isinstance(e, te.TokenRemoved):
        return _t("Card removed"), _t("%1 was removed while it was in use. Insert it again.").replace(
            "%1", _card(e)
        )
    if isinstance(e, te.TokenNotPresent):
        return _t("Card not found"), _t("%1 is not in the reader. Insert the card and try again.").replace(
            "%1", _card(e)
        )
    if isinstance(e, te.ModuleLoadFailed):
        return _t("Card software not loaded"), _t(
            "The PKCS#11 module %1 could not be loaded: %2. Check the module path in Settings."
        ).replace("%1", e.path).replace("%2", e.reason)
    if isinstance(e, te.MechanismUnsupported):
        return _t("Card not compatible"), _t(
            "The card cannot make the kind of signature the server asks for. Try another certificate."
        )
    if isinstance(e, te.KeyNotFound):
        return _t("Key not found"), _t(
            "The card has this certificate but not its private key, so it cannot be used to log in."
        )
    if isinstance(e, te.CertificateUnusable):
        return _t("Certificate not usable"), _t("This certificate cannot be used to log in: %1").replace(
            "%1", str(e)
        )
    if isinstance(e, te.StorePasswordIncorrect):
        return _t("Wrong file password"), _t("The password of the certificate file is wrong. Type it again.")
    if isinstance(e, te.FileStoreError):
        return _t("Certificate file unreadable"), _t("The certificate file could not be read: %1").replace(
            "%1", str(e)
        )
    if isinstance(e, te.TokenOperationFailed):
        return _t("Card error"), _t(
            "The card reported an error (%1). Remove and insert it, then try again."
        ).replace("%1", e.ckr or _t("unknown"))
    if isinstance(e, te.TokenError):
        return _t("Card error"), _t("The card could not be used: %1").replace("%1", str(e))

    # --- session layer: transport ---
    if isinstance(e, se.ServerNotTrusted):
        return _t("Server not trusted"), _t(
            "The server %1 could not prove its identity (%2). The connection was stopped to protect "
            "you. If your company inspects TLS traffic, add its CA bundle in Settings."
        ).replace("%1", e.host or _t("the server")).replace("%2", e.reason or _t("certificate not trusted"))
    if isinstance(e, se.ClientCertRejected):
        return _t("Certificate refused"), _t(
            "The server refused your certificate during the secure connection. Check that it is the "
            "certificate registered for this account and that it has not expired."
        )
    if isinstance(e, se.ConnectionTimeout):
        return _t("No answer"), _t(
            "The server %1 did not answer in time. Check your network and try again."
        ).replace("%1", e.host or _t("the server"))
    if isinstance(e, se.EndpointUnreachable):
        return _t("Server unreachable"), _t(
            "The server %1 could not be reached. Check the Region or endpoint and your network."
        ).replace("%1", e.host or _t("the server"))
    if isinstance(e, se.TlsHandshakeError | se.TlsError):
        return _t("Secure connection failed"), _t("The secure connection to the server failed: %1").replace(
            "%1", str(e)
        )

    # --- session layer: API ---
    if isinstance(e, se.UnmatchedApiAccessRules):
        return _t("Certificate not allowed"), _t(
            "The account's API access rules do not allow this certificate (its issuer or name) or "
            "your network address. Pick the certificate registered for this account, or ask the "
            "account administrator to add its CA."
        )
    if isinstance(e, se.AuthLocked):
        if e.permanent or e.retry_after is None:
            return _t("Login locked"), _t(
                "Too many failed logins: authentication is locked for this account. Contact support "
                "to unlock it."
            )
        return _t("Login locked"), _t(
            "Too many failed logins: authentication is locked for %1 (min:s). Wait, then try again."
        ).replace("%1", _minutes(e.retry_after))
    if isinstance(e, se.AuthenticationFailed):
        return _t("Login refused"), _t(
            "The login and password (or access key and secret key) were refused. Check them; after "
            "four failures the account is locked for a minute."
        )
    if isinstance(e, se.PasswordExpired):
        return _t("Password expired"), _t(
            "Your password has expired. Change it in Cockpit, then log in again."
        )
    if isinstance(e, se.UserNotAllowed):
        return _t("Not allowed"), _t("Your user is not allowed to do this. Ask the account administrator.")
    if isinstance(e, se.WrongAuthenticationMethod):
        return _t("Wrong kind of login"), _t(
            "This operation does not accept this kind of login. Try with an access key instead."
        )
    if isinstance(e, se.Throttled):
        return _t("Too many requests"), _t("The API asks to slow down. Wait a few seconds and try again.")
    if isinstance(e, se.QuotaExceeded):
        return _t("Quota reached"), _t(
            "A quota was reached (a user can have at most 10 access keys). Delete an unused access "
            "key in Cockpit and try again."
        )
    if isinstance(e, se.ApiUnavailable):
        return _t("Service unavailable"), _t(
            "The API is unavailable or answered something unexpected. Try again later."
        )
    if isinstance(
        e,
        se.InvalidParameter
        | se.ResourceNotFound
        | se.InvalidState
        | se.ResourceConflict
        | se.DependencyProblem
        | se.ApiError,
    ):
        code = getattr(e, "code", None)
        return _t("Request refused"), _t("The API refused the request: %1").replace(
            "%1", (e.details or str(e)) + (f" (Code {code})" if code else "")
        )

    # --- session layer: configuration and lifecycle ---
    if isinstance(e, se.ConfigError):
        return _t("Configuration problem"), _t("A configuration file could not be used: %1").replace(
            "%1", str(e)
        )
    if isinstance(e, se.SessionEnded):
        return _t("Session ended"), _t("The session has ended. Log in again.")
    if isinstance(e, se.SessionError):
        return _t("Session error"), str(e)

    # Anything else is a bug in our code: say so rather than pretend it is the user's fault.
    return _t("Unexpected error"), _t("Something unexpected happened (%1). Please report it.").replace(
        "%1", type(e).__name__
    )


def all_error_classes() -> list[type[BaseException]]:
    """Every typed error class of the core (for the test that each one has words)."""
    out: list[type[BaseException]] = []
    for mod, base in ((te, te.TokenError), (se, se.SessionError)):
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, base):
                out.append(obj)
    return out


def describe_end(reason: EndReason, key_revoked: bool | None, message: str | None = None) -> tuple[str, str]:
    """(title, text) for a session that ended, shown on the login window."""
    title, text = {
        EndReason.CARD_REMOVED: (
            _t("Session ended: card removed"),
            _t("The card was not inserted again in time, so the session ended."),
        ),
        EndReason.LOGOUT: (_t("Logged out"), _t("You logged out.")),
        EndReason.QUIT: (_t("Session ended"), _t("The application quit, so the session ended.")),
        EndReason.KEY_EXPIRED: (
            _t("Session ended: key expired"),
            _t("The session's temporary access key reached its expiry date. Log in again."),
        ),
        EndReason.ERROR: (_t("Session ended after an error"), message or _t("The session could not go on.")),
        EndReason.LOGIN_FAILED: (_t("Login failed"), message or _t("The login failed.")),
    }[reason]
    if key_revoked is True:
        text += " " + _t("The temporary access key was revoked.")
    elif key_revoked is False:
        text += " " + _t(
            "The temporary access key could not be revoked; it stays valid until its expiry date. Delete it "
            "in Cockpit if this computer is not trusted."
        )
    return title, text
