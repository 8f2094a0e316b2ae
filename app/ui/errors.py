"""The one place that turns a typed error of the core into a title and plain words for the operator."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.session import errors as se
from app.session.model import EndReason
from app.tokens import errors as te

# Module-level code has no QObject.tr(): translate() with the literal context "describe" is what
# lupdate extracts (keep the context a literal at every call).
translate = QCoreApplication.translate


def _card(e: BaseException) -> str:
    label = getattr(e, "token_label", None)
    return label or translate("describe", "the card")


def _minutes(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def describe(error: BaseException) -> tuple[str, str]:
    """A (title, text) pair in the current language for any error the core can raise."""
    e = error
    # --- token layer: the most specific classes first (PinIncorrect before TokenError, etc.) ---
    if isinstance(e, te.PinIncorrect):
        text = translate(
            "describe", "The PIN of %1 is incorrect. Type it again carefully; it is never retried for you."
        ).replace("%1", _card(e))
        if e.final_try or e.tries_left == 1:
            text += " " + translate("describe", "Warning: one more wrong PIN will lock the card.")
        elif e.tries_left is not None:
            text += " " + translate("describe", "Tries left: %1.").replace("%1", str(e.tries_left))
        return translate("describe", "Wrong PIN"), text
    if isinstance(e, te.PinLocked):
        return translate("describe", "Card locked"), translate(
            "describe",
            "The PIN of %1 is blocked after too many wrong tries. The card cannot be used until an "
            "administrator unblocks it with the PUK or SO PIN. Contact your security officer.",
        ).replace("%1", _card(e))
    if isinstance(e, te.PinInvalid):
        return translate("describe", "PIN not accepted"), translate(
            "describe",
            "The card does not accept a PIN of this length or with these characters. This did not "
            "count as a try.",
        )
    if isinstance(e, te.PinCancelled):
        return translate("describe", "Cancelled"), translate(
            "describe", "The PIN was not entered, so the login was cancelled."
        )
    if isinstance(e, te.TokenRemoved):
        return translate("describe", "Card removed"), translate(
            "describe", "%1 was removed while it was in use. Insert it again."
        ).replace("%1", _card(e))
    if isinstance(e, te.TokenNotPresent):
        return translate("describe", "Card not found"), translate(
            "describe", "%1 is not in the reader. Insert the card and try again."
        ).replace("%1", _card(e))
    if isinstance(e, te.ModuleLoadFailed):
        return translate("describe", "Card software not loaded"), translate(
            "describe", "The PKCS#11 module %1 could not be loaded: %2. Check the module path in Settings."
        ).replace("%1", e.path).replace("%2", e.reason)
    if isinstance(e, te.MechanismUnsupported):
        return translate("describe", "Card not compatible"), translate(
            "describe",
            "The card cannot make the kind of signature the server asks for. Try another certificate.",
        )
    if isinstance(e, te.KeyNotFound):
        return translate("describe", "Key not found"), translate(
            "describe",
            "The card has this certificate but not its private key, so it cannot be used to log in.",
        )
    if isinstance(e, te.CertificateUnusable):
        return translate("describe", "Certificate not usable"), translate(
            "describe", "This certificate cannot be used to log in: %1"
        ).replace("%1", str(e))
    if isinstance(e, te.StorePasswordIncorrect):
        return translate("describe", "Wrong file password"), translate(
            "describe", "The password of the certificate file is wrong. Type it again."
        )
    if isinstance(e, te.FileStoreError):
        return translate("describe", "Certificate file unreadable"), translate(
            "describe", "The certificate file could not be read: %1"
        ).replace("%1", str(e))
    if isinstance(e, te.TokenOperationFailed):
        return translate("describe", "Card error"), translate(
            "describe", "The card reported an error (%1). Remove and insert it, then try again."
        ).replace("%1", e.ckr or translate("describe", "unknown"))
    if isinstance(e, te.TokenError):
        return translate("describe", "Card error"), translate(
            "describe", "The card could not be used: %1"
        ).replace("%1", str(e))

    # --- session layer: transport ---
    if isinstance(e, se.ServerNotTrusted):
        return translate("describe", "Server not trusted"), translate(
            "describe",
            "The server %1 could not prove its identity (%2). The connection was stopped to protect "
            "you. If your company inspects TLS traffic, add its CA bundle in Settings.",
        ).replace("%1", e.host or translate("describe", "the server")).replace(
            "%2", e.reason or translate("describe", "certificate not trusted")
        )
    if isinstance(e, se.ClientCertRejected):
        return translate("describe", "Certificate refused"), translate(
            "describe",
            "The server refused your certificate during the secure connection. Check that it is the "
            "certificate registered for this account and that it has not expired.",
        )
    if isinstance(e, se.ConnectionTimeout):
        return translate("describe", "No answer"), translate(
            "describe", "The server %1 did not answer in time. Check your network and try again."
        ).replace("%1", e.host or translate("describe", "the server"))
    if isinstance(e, se.EndpointUnreachable):
        return translate("describe", "Server unreachable"), translate(
            "describe", "The server %1 could not be reached. Check the Region or endpoint and your network."
        ).replace("%1", e.host or translate("describe", "the server"))
    if isinstance(e, se.TlsHandshakeError | se.TlsError):
        return translate("describe", "Secure connection failed"), translate(
            "describe", "The secure connection to the server failed: %1"
        ).replace("%1", str(e))

    # --- session layer: API ---
    if isinstance(e, se.UnmatchedApiAccessRules):
        return translate("describe", "Certificate not allowed"), translate(
            "describe",
            "The account's API access rules do not allow this certificate (its issuer or name) or "
            "your network address. Pick the certificate registered for this account, or ask the "
            "account administrator to add its CA.",
        )
    if isinstance(e, se.AuthLocked):
        if e.permanent or e.retry_after is None:
            return translate("describe", "Login locked"), translate(
                "describe",
                "Too many failed logins: authentication is locked for this account. Contact support "
                "to unlock it.",
            )
        return translate("describe", "Login locked"), translate(
            "describe",
            "Too many failed logins: authentication is locked for %1 (min:s). Wait, then try again.",
        ).replace("%1", _minutes(e.retry_after))
    if isinstance(e, se.AuthenticationFailed):
        return translate("describe", "Login refused"), translate(
            "describe",
            "The login and password (or access key and secret key) were refused. Check them; after "
            "four failures the account is locked for a minute.",
        )
    if isinstance(e, se.PasswordExpired):
        return translate("describe", "Password expired"), translate(
            "describe", "Your password has expired. Change it in Cockpit, then log in again."
        )
    if isinstance(e, se.UserNotAllowed):
        return translate("describe", "Not allowed"), translate(
            "describe", "Your user is not allowed to do this. Ask the account administrator."
        )
    if isinstance(e, se.WrongAuthenticationMethod):
        return translate("describe", "Wrong kind of login"), translate(
            "describe", "This operation does not accept this kind of login. Try with an access key instead."
        )
    if isinstance(e, se.Throttled):
        return translate("describe", "Too many requests"), translate(
            "describe", "The API asks to slow down. Wait a few seconds and try again."
        )
    if isinstance(e, se.QuotaExceeded):
        return translate("describe", "Quota reached"), translate(
            "describe",
            "A quota was reached (a user can have at most 10 access keys). Delete an unused access "
            "key in Cockpit and try again.",
        )
    if isinstance(e, se.ApiUnavailable):
        return translate("describe", "Service unavailable"), translate(
            "describe", "The API is unavailable or answered something unexpected. Try again later."
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
        return translate("describe", "Request refused"), translate(
            "describe", "The API refused the request: %1"
        ).replace("%1", (e.details or str(e)) + (f" (Code {code})" if code else ""))

    # --- session layer: configuration and lifecycle ---
    if isinstance(e, se.ConfigError):
        return translate("describe", "Configuration problem"), translate(
            "describe", "A configuration file could not be used: %1"
        ).replace("%1", str(e))
    if isinstance(e, se.SessionEnded):
        return translate("describe", "Session ended"), translate(
            "describe", "The session has ended. Log in again."
        )
    if isinstance(e, se.SessionError):
        return translate("describe", "Session error"), str(e) or translate(
            "describe", "The session could not go on."
        )

    # Anything else is a bug in our code: say so rather than pretend it is the user's fault.
    return translate("describe", "Unexpected error"), translate(
        "describe", "Something unexpected happened (%1). Please report it."
    ).replace("%1", type(e).__name__)


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
            translate("describe", "Session ended: card removed"),
            translate("describe", "The card was not inserted again in time, so the session ended."),
        ),
        EndReason.LOGOUT: (translate("describe", "Logged out"), translate("describe", "You logged out.")),
        EndReason.QUIT: (
            translate("describe", "Session ended"),
            translate("describe", "The application quit, so the session ended."),
        ),
        EndReason.KEY_EXPIRED: (
            translate("describe", "Session ended: key expired"),
            translate(
                "describe", "The session's temporary access key reached its expiry date. Log in again."
            ),
        ),
        EndReason.ERROR: (
            translate("describe", "Session ended after an error"),
            message or translate("describe", "The session could not go on."),
        ),
        EndReason.LOGIN_FAILED: (
            translate("describe", "Login failed"),
            message or translate("describe", "The login failed."),
        ),
    }[reason]
    if key_revoked is True:
        text += " " + translate("describe", "The temporary access key was revoked.")
    elif key_revoked is False:
        text += " " + translate(
            "describe",
            "The temporary access key could not be revoked; it stays valid until its expiry date. Delete it "
            "in Cockpit if this computer is not trusted.",
        )
    return title, text
