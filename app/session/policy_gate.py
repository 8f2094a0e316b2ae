"""The session's side of the organisation's policy (app.policy): what a login may use, checked in the
core whatever face (window, `login --headless`, `exec`) asked, before any network, card or PIN."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.policy import NOT_ALLOWED, Policy, current
from app.session.errors import SessionError

if TYPE_CHECKING:
    from cryptography import x509

    from app.session.model import CertificateChoice, LoginRequest
    from app.session.tls import TrustConfig
    from app.tokens.model import CertificateEntry


class PolicyError(SessionError):
    """The organisation's policy forbids this login (the message says what and where to get help)."""


def _refuse(policy: Policy, what: str) -> PolicyError:
    return PolicyError(str(policy.refuse(what)))


def check_certificate_source(choice: CertificateChoice | None, policy: Policy | None = None) -> None:
    """A key in a file (or a software store) is refused under certificate_sources ["card"]."""
    policy = policy or current()
    if choice is None or policy.file_keys_allowed:
        return
    from app.tokens.model import KeyFactor

    software = not choice.is_card if choice.entry is None else choice.entry.factor is KeyFactor.KNOWLEDGE
    if software:
        raise _refuse(policy, f"Keys in files are {NOT_ALLOWED}: log in with a smart card "
                              f"(certificate_sources in {policy.origin('certificate_sources')})")


def check_endpoint(request: LoginRequest, policy: Policy | None = None) -> str:
    """The API URL of the request; PolicyError when endpoints are fixed and it is none of them
    (whatever set it: --endpoint, OSC_ENDPOINT_API, a profile, the window)."""
    from app.session.regions import resolve_endpoint

    policy = policy or current()
    url = resolve_endpoint(request.region, request.endpoint).url
    if not policy.endpoint_allowed(url):
        allowed = ", ".join(e["api"] for e in policy.fixed_endpoints or [])
        raise _refuse(policy, f"The endpoint {url} is {NOT_ALLOWED}; allowed: {allowed or 'none'} "
                              f"(endpoints.fixed in {policy.origin('endpoints.fixed')})")
    return url


def check_login(request: LoginRequest, policy: Policy | None = None) -> None:
    """Everything the policy says about a login request, before it touches the network or a card."""
    policy = policy or current()
    blocked = policy.login_blocked()
    if blocked:
        raise _refuse(policy, blocked)
    check_endpoint(request, policy)
    check_certificate_source(request.certificate, policy)


def check_issuer(cert: x509.Certificate, chain: tuple[x509.Certificate, ...] = (),
                 policy: Policy | None = None) -> None:
    """PolicyError when allowed_issuers_sha256 is set and no CA on it issued `cert` (CAs looked for in
    the certificate's own chain, the policy's extra_ca_file)."""
    policy = policy or current()
    if policy.get("allowed_issuers_sha256") is None:
        return
    from app.policy.certs import certificates_in, issuer_fingerprints

    found = issuer_fingerprints(cert, [*chain, *certificates_in(policy.extra_ca_file)])
    if not policy.issuer_allowed(found):
        raise _refuse(policy, f"Certificates issued by {cert.issuer.rfc4514_string()} are {NOT_ALLOWED} "
                              f"(allowed_issuers_sha256 in {policy.origin('allowed_issuers_sha256')})")


def capped_grace(grace: float, policy: Policy | None = None) -> float:
    """The API's grace (5 min / 1 h) shortened by max_grace_seconds / end_on_removal, never lengthened."""
    return (policy or current()).capped_grace(grace)


def trust_for(ca_file: str | None, policy: Policy | None = None) -> TrustConfig:
    """The server trust of a connection: the operator's CA file and the policy's extra_ca_file, both.

    The policy's file is often a fleet's TLS-inspection or private-API CA: an operator's own --ca-file
    (for another reason) must not drop it, or every connection through that proxy would fail.
    """
    from app.session.tls import TrustConfig

    extra = (policy or current()).extra_ca_file
    if not ca_file:
        return TrustConfig(extra_ca_file=extra)
    return TrustConfig(extra_ca_file=ca_file, more_ca_files=(extra,) if extra and extra != ca_file else ())


def certificate_refusal(entry: CertificateEntry, policy: Policy | None = None) -> str | None:
    """Why the organisation does not allow this listed certificate: "source" (smart cards only) or
    "issuer" (not from an allowed CA), else None. The picker and `certs` show it before any login; the
    login itself is refused by check_certificate_source and check_issuer."""
    from app.tokens.model import KeyFactor

    policy = policy or current()
    if not policy.file_keys_allowed and entry.factor is KeyFactor.KNOWLEDGE:
        return "source"
    if policy.get("allowed_issuers_sha256") is None:
        return None
    from cryptography import x509

    from app.policy.certs import certificates_in, issuer_fingerprints

    try:
        cert = x509.load_der_x509_certificate(entry.der)
    except ValueError:
        return None  # unparsable: its own problem says so
    if policy.issuer_allowed(issuer_fingerprints(cert, certificates_in(policy.extra_ca_file))):
        return None
    return "issuer"
