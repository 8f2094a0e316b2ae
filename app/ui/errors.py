"""The one place that turns a typed error of the core into a title and plain words for the operator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication

from app.session import errors as se
from app.session.model import EndReason
from app.session.policy_gate import PolicyError
from app.tokens import errors as te
from app.tokens.module_gate import ModuleForbidden

# Module-level code has no QObject.tr(): translate() with the literal context "describe" is what
# lupdate extracts (keep the context a literal at every call).
translate = QCoreApplication.translate


def _card(e: te.TokenError) -> str:
    return e.token_label or translate("describe", "the card")


def _minutes(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def describe(error: BaseException) -> tuple[str, str]:
    """A (title, text) pair in the current language for any error the core can raise."""
    # The most specific class listed wins: the error's own class first, then its bases in MRO order.
    for cls in type(error).__mro__:
        words = _DESCRIBERS.get(cls)
        if words is not None:
            return _with_support(*words(error))
    # Anything else is a bug in our code: say so rather than pretend it is the user's fault.
    return translate("describe", "Unexpected error"), translate(
        "describe", "Something unexpected happened (%1). Please report it."
    ).replace("%1", type(error).__name__)


# --- token layer ---


def _pin_incorrect(e: te.PinIncorrect) -> tuple[str, str]:
    text = translate(
        "describe", "The PIN of %1 is incorrect. Type it again carefully; it is never retried for you."
    ).replace("%1", _card(e))
    if e.final_try or e.tries_left == 1:
        text += " " + translate("describe", "Warning: one more wrong PIN will lock the card.")
    elif e.tries_left is not None:
        text += " " + translate("describe", "Tries left: %1.").replace("%1", str(e.tries_left))
    return translate("describe", "Wrong PIN"), text


def _pin_locked(e: te.PinLocked) -> tuple[str, str]:
    return translate("describe", "Card locked"), translate(
        "describe",
        "The PIN of %1 is blocked after too many wrong tries. The card cannot be used until an "
        "administrator unblocks it with the PUK or SO PIN. Contact your security officer.",
    ).replace("%1", _card(e))


def _pin_invalid(e: te.PinInvalid) -> tuple[str, str]:
    return translate("describe", "PIN not accepted"), translate(
        "describe",
        "The card does not accept a PIN of this length or with these characters. This did not "
        "count as a try.",
    )


def _pin_cancelled(e: te.PinCancelled) -> tuple[str, str]:
    return translate("describe", "Cancelled"), translate(
        "describe", "The PIN was not entered, so the login was cancelled."
    )


def _token_removed(e: te.TokenRemoved) -> tuple[str, str]:
    return translate("describe", "Card removed"), translate(
        "describe", "%1 was removed while it was in use. Insert it again."
    ).replace("%1", _card(e))


def _token_not_present(e: te.TokenNotPresent) -> tuple[str, str]:
    return translate("describe", "Card not found"), translate(
        "describe", "%1 is not in the reader. Insert the card and try again."
    ).replace("%1", _card(e))


def _module_load_failed(e: te.ModuleLoadFailed) -> tuple[str, str]:
    return translate("describe", "Card software not loaded"), translate(
        "describe", "The PKCS#11 module %1 could not be loaded: %2. Check the module path in Settings."
    ).replace("%1", e.path).replace("%2", e.reason)


def _mechanism_unsupported(e: te.MechanismUnsupported) -> tuple[str, str]:
    return translate("describe", "Card not compatible"), translate(
        "describe",
        "The card cannot make the kind of signature the server asks for. Try another certificate.",
    )


def _key_not_found(e: te.KeyNotFound) -> tuple[str, str]:
    return translate("describe", "Key not found"), translate(
        "describe",
        "The card has this certificate but not its private key, so it cannot be used to log in.",
    )


def _certificate_unusable(e: te.CertificateUnusable) -> tuple[str, str]:
    return translate("describe", "Certificate not usable"), translate(
        "describe", "This certificate cannot be used to log in: %1"
    ).replace("%1", str(e))


def _store_password_incorrect(e: te.StorePasswordIncorrect) -> tuple[str, str]:
    return translate("describe", "Wrong file password"), translate(
        "describe", "The password of the certificate file is wrong. Type it again."
    )


def _file_store_error(e: te.FileStoreError) -> tuple[str, str]:
    return translate("describe", "Certificate file unreadable"), translate(
        "describe", "The certificate file could not be read: %1"
    ).replace("%1", str(e))


def _token_operation_failed(e: te.TokenOperationFailed) -> tuple[str, str]:
    return translate("describe", "Card error"), translate(
        "describe", "The card reported an error (%1). Remove and insert it, then try again."
    ).replace("%1", e.ckr or translate("describe", "unknown"))


def _token_error(e: te.TokenError) -> tuple[str, str]:
    return translate("describe", "Card error"), translate(
        "describe", "The card could not be used: %1"
    ).replace("%1", str(e))


# --- session layer: transport ---


def _server_not_trusted(e: se.ServerNotTrusted) -> tuple[str, str]:
    return translate("describe", "Server not trusted"), translate(
        "describe",
        "The server %1 could not prove its identity (%2). The connection was stopped to protect "
        "you. If your company inspects TLS traffic, add its CA bundle in Settings.",
    ).replace("%1", e.host or translate("describe", "the server")).replace(
        "%2", e.reason or translate("describe", "certificate not trusted")
    )


def _client_cert_rejected(e: se.ClientCertRejected) -> tuple[str, str]:
    return translate("describe", "Certificate refused"), translate(
        "describe",
        "The server refused your certificate during the secure connection. Check that it is the "
        "certificate registered for this account and that it has not expired.",
    )


def _connection_timeout(e: se.ConnectionTimeout) -> tuple[str, str]:
    return translate("describe", "No answer"), translate(
        "describe", "The server %1 did not answer in time. Check your network and try again."
    ).replace("%1", e.host or translate("describe", "the server"))


def _endpoint_unreachable(e: se.EndpointUnreachable) -> tuple[str, str]:
    return translate("describe", "Server unreachable"), translate(
        "describe", "The server %1 could not be reached. Check the Region or endpoint and your network."
    ).replace("%1", e.host or translate("describe", "the server"))


def _tls_error(e: se.TlsError) -> tuple[str, str]:
    return translate("describe", "Secure connection failed"), translate(
        "describe", "The secure connection to the server failed: %1"
    ).replace("%1", str(e))


# --- session layer: API ---


def _unmatched_rules(e: se.UnmatchedApiAccessRules) -> tuple[str, str]:
    return translate("describe", "Certificate not allowed"), translate(
        "describe",
        "The account's API access rules do not allow this certificate (its issuer or name) or "
        "your network address. Pick the certificate registered for this account, or ask the "
        "account administrator to add its CA.",
    )


def _auth_locked(e: se.AuthLocked) -> tuple[str, str]:
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


def _authentication_failed(e: se.AuthenticationFailed) -> tuple[str, str]:
    return translate("describe", "Login refused"), translate(
        "describe",
        "The login and password (or access key and secret key) were refused. Check them; after "
        "four failures the account is locked for a minute.",
    )


def _password_expired(e: se.PasswordExpired) -> tuple[str, str]:
    return translate("describe", "Password expired"), translate(
        "describe", "Your password has expired. Change it in Cockpit, then log in again."
    )


def _user_not_allowed(e: se.UserNotAllowed) -> tuple[str, str]:
    return translate("describe", "Not allowed"), translate(
        "describe", "Your user is not allowed to do this. Ask the account administrator."
    )


def _wrong_method(e: se.WrongAuthenticationMethod) -> tuple[str, str]:
    return translate("describe", "Wrong kind of login"), translate(
        "describe", "This operation does not accept this kind of login. Try with an access key instead."
    )


def _throttled(e: se.Throttled) -> tuple[str, str]:
    return translate("describe", "Too many requests"), translate(
        "describe", "The API asks to slow down. Wait a few seconds and try again."
    )


def _quota_exceeded(e: se.QuotaExceeded) -> tuple[str, str]:
    return translate("describe", "Quota reached"), translate(
        "describe",
        "A quota was reached (a user can have at most 10 access keys). Delete an unused access "
        "key in Cockpit and try again.",
    )


def _api_unavailable(e: se.ApiUnavailable) -> tuple[str, str]:
    return translate("describe", "Service unavailable"), translate(
        "describe", "The API is unavailable or answered something unexpected. Try again later."
    )


def _api_error(e: se.ApiError) -> tuple[str, str]:
    return translate("describe", "Request refused"), translate(
        "describe", "The API refused the request: %1"
    ).replace("%1", (e.details or str(e)) + (f" (Code {e.code})" if e.code else ""))


# --- session layer: configuration and lifecycle ---


def _config_error(e: se.ConfigError) -> tuple[str, str]:
    return translate("describe", "Configuration problem"), translate(
        "describe", "A configuration file could not be used: %1"
    ).replace("%1", str(e))


def _session_ended(e: se.SessionEnded) -> tuple[str, str]:
    return translate("describe", "Session ended"), translate(
        "describe", "The session has ended. Log in again."
    )


def _with_support(title: str, text: str) -> tuple[str, str]:
    """The organisation's support line (managed policy `support`) under every error."""
    from app.policy import current

    line = current().support_line()
    if not line or line in text:
        return title, text
    return title, text + "\n\n" + translate("describe", "Help: %1").replace("%1", line)


def _policy_refused(e: BaseException) -> tuple[str, str]:
    # the core's message already names the rule, the policy file and the support line
    return translate("describe", "Not allowed by your organisation"), str(e)


def _session_error(e: se.SessionError) -> tuple[str, str]:
    return translate("describe", "Session error"), str(e) or translate(
        "describe", "The session could not go on."
    )


# Error class -> its words. A class not listed takes the words of its nearest listed base (describe()
# walks the MRO): e.g. InvalidParameter, ResourceNotFound... take ApiError's; LoginCancelled takes
# SessionError's. Each function takes the class it is listed under.
_DESCRIBERS: dict[type[BaseException], Callable[[Any], tuple[str, str]]] = {
    te.PinIncorrect: _pin_incorrect,
    te.PinLocked: _pin_locked,
    te.PinInvalid: _pin_invalid,
    te.PinCancelled: _pin_cancelled,
    te.TokenRemoved: _token_removed,
    te.TokenNotPresent: _token_not_present,
    ModuleForbidden: _policy_refused,
    te.ModuleLoadFailed: _module_load_failed,
    te.MechanismUnsupported: _mechanism_unsupported,
    te.KeyNotFound: _key_not_found,
    te.CertificateUnusable: _certificate_unusable,
    te.StorePasswordIncorrect: _store_password_incorrect,
    te.FileStoreError: _file_store_error,
    te.TokenOperationFailed: _token_operation_failed,
    te.TokenError: _token_error,
    se.ServerNotTrusted: _server_not_trusted,
    se.ClientCertRejected: _client_cert_rejected,
    se.ConnectionTimeout: _connection_timeout,
    se.EndpointUnreachable: _endpoint_unreachable,
    se.TlsError: _tls_error,  # and TlsHandshakeError
    se.UnmatchedApiAccessRules: _unmatched_rules,
    se.AuthLocked: _auth_locked,
    se.AuthenticationFailed: _authentication_failed,
    se.PasswordExpired: _password_expired,
    se.UserNotAllowed: _user_not_allowed,
    se.WrongAuthenticationMethod: _wrong_method,
    se.Throttled: _throttled,
    se.QuotaExceeded: _quota_exceeded,
    se.ApiUnavailable: _api_unavailable,
    se.ApiError: _api_error,
    se.ConfigError: _config_error,
    se.SessionEnded: _session_ended,
    PolicyError: _policy_refused,
    se.SessionError: _session_error,
}


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


# --- warnings during a session (the core's Notice codes; app.session.model.Notice) ---


def describe_warning(message: str, data: dict[str, Any] | None = None) -> str:
    """A session warning in the UI's language: from its code and parameters when the core gave them,
    the core's English words otherwise. Technical details of a cause stay as the core wrote them."""
    data = data or {}
    detail = str(data.get("detail") or "")
    code = data.get("warning")
    if code == "account_unreadable":
        return translate("describe", "The account could not be read (%1).").replace("%1", detail)
    if code == "no_temporary_key":
        why = translate("describe", "the access key quota is full: at most 10 keys per user") \
            if data.get("quota") else detail
        return translate(
            "describe",
            "No temporary access key could be created (%1); this session signs its calls with the access "
            "key you gave, which stays valid after the session.",
        ).replace("%1", why)
    if code == "pin_not_given":
        return translate(
            "describe",
            "The card's PIN was not given: the countdown goes on. Remove and insert the card, or unlock it, "
            "to continue the session.",
        )
    if code == "pin_refused":
        return _pin_refused_in_grace(data)
    if code == "unlock_failed":
        return translate("describe", "The card could not be unlocked (%1); the countdown goes on.").replace(
            "%1", detail)
    if code == "old_key_not_deleted":
        return (
            translate("describe", "The previous temporary access key %1 could not be deleted (%2); it stays "
                                  "valid until %3.")
            .replace("%1", str(data.get("access_key_id") or "?"))
            .replace("%2", detail)
            .replace("%3", str(data.get("until") or "?"))
        )
    return message


def _pin_refused_in_grace(data: dict[str, Any]) -> str:
    if data.get("pin_locked"):
        return translate(
            "describe",
            "The card's PIN is blocked after too many wrong tries; the countdown goes on. Contact your "
            "security officer.",
        )
    text = translate("describe", "Wrong PIN; the countdown goes on.")
    tries = data.get("tries_left")
    if data.get("final_try") or tries == 1:
        text += " " + translate("describe", "Warning: one more wrong PIN will lock the card.")
    elif tries is not None:
        text += " " + translate("describe", "Tries left: %1.").replace("%1", str(tries))
    return text
