"""The errors the agent answers itself, in OUTSCALE's shape, so that the tools report them as usual.

Codes: authentication refusals are HTTP 401 Code "1" (AccessDenied / AuthFailure, as the API answers a
bad signature); Basic-auth is Code "9" (the API's "login/password not allowed for this call"); a browser
request is HTTP 403 Code "1". When the agent cannot forward, the Type names why (a tool prints it):
TrustedSessionEnded (401), TrustedSessionPaused (503: the card is out and a new connection would need
it), TrustedSessionUnreachable (503/504: the endpoint did not answer). Never an empty or made-up success.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class AgentError:
    """One error the agent answers: HTTP status, OUTSCALE Code and Type, plain Details."""

    status: int
    code: str
    type: str
    details: str

    def body(self) -> bytes:
        """The OUTSCALE-shaped JSON answer (a fresh RequestId per answer)."""
        data = {
            "Errors": [{"Code": self.code, "Type": self.type, "Details": self.details}],
            "ResponseContext": {"RequestId": f"agent-{uuid.uuid4()}"},
        }
        return json.dumps(data).encode("utf-8")


def auth_refused(details: str) -> AgentError:
    """401 Code 1: the local signature did not prove the local pair (nothing forwarded)."""
    return AgentError(401, "1", "AccessDenied", f"Trusted Login agent: {details}")


def browser_refused(details: str) -> AgentError:
    """403 Code 1: a request with the traits of a web page (nothing forwarded)."""
    return AgentError(403, "1", "AccessDenied", f"Trusted Login agent: {details}")


BASIC_REFUSED = AgentError(
    401, "9", "AuthFailure",
    "Trusted Login agent: login/password requests are not forwarded; the calls that take them "
    "(access keys, CAs, API access rules and policy) go through the app's own login.")

SESSION_ENDED = AgentError(
    401, "1", "TrustedSessionEnded",
    "Trusted Login agent: the trusted session has ended; this local key is no longer valid. "
    "Log in again (osc-trusted-login) and take the new variables or profile.")

NOT_FOUND = AgentError(404, "0", "DefaultError",
                       "Trusted Login agent: not an API call path (POST /api/v1/<Call>).")

METHOD_REFUSED = AgentError(405, "2", "AccessDenied", "Trusted Login agent: only POST is served.")

TOO_LARGE = AgentError(413, "0", "DefaultError", "Trusted Login agent: the request body is too large.")

TOO_MANY_CONNECTIONS = AgentError(
    503, "0", "TooManyConnections",
    "Trusted Login agent: too many connections are open to the agent; close some and try again.")


def session_paused(why: str) -> AgentError:
    """503: the session cannot make this call now (card out, the session paused)."""
    return AgentError(503, "0", "TrustedSessionPaused", f"Trusted Login agent: {why}")


def unreachable(why: str, *, timeout: bool = False) -> AgentError:
    """503 (504 on a timeout): the API endpoint could not be reached over the session's transport."""
    status = 504 if timeout else 503
    return AgentError(status, "0", "TrustedSessionUnreachable", f"Trusted Login agent: {why}")
