"""SessionUpstream across a key renewal: a forward that took the old key's client just before the renewal
wiped its secret (the signing fails, nothing was sent) is signed again by the new key's client; after the
session's end it says so. Fakes at the SessionView seam; the real race runs in tests/soak/test_soak_agent."""

from __future__ import annotations

import pytest

from app.session.agent.server import UpstreamRefused
from app.session.agent.upstream import SessionUpstream
from app.session.agent.wire import SESSION_ENDED
from app.session.model import Secret, SessionState
from app.session.signing import SigningKeys


class Client:
    """A client that signs with its own secret before it 'sends' (as OutscaleClient.forward does)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.secret = Secret("s" * 40)
        self.keys = SigningKeys(self.secret)
        self.sent: list[str] = []

    def forward(self, call: str, body: bytes) -> tuple[int, bytes, str]:
        self.keys.key("20261204", "eu-west-2")  # raises SecretWiped once the renewal wiped it
        self.sent.append(call)
        return 200, f'{{"by": "{self.name}"}}'.encode(), "application/json"


class Session:
    """Hands out its current client; after a renewal (`renewed_to`), the next ask gets the new one."""

    def __init__(self) -> None:
        self.state = SessionState.ACTIVE
        self.current = Client("old")
        self.renewed_to: Client | None = None

    @property
    def client(self) -> Client:
        handed = self.current
        if self.renewed_to is not None:  # the renewal happens right after this ask
            self.current, self.renewed_to = self.renewed_to, None
        return handed


def test_a_call_signed_as_the_key_is_renewed_goes_out_with_the_new_key() -> None:
    session = Session()
    upstream = SessionUpstream(session)  # type: ignore[arg-type]
    old, new = session.current, Client("new")
    session.renewed_to = new
    old.secret.wipe()  # the renewal retired the old key after the forward took its client
    answer = upstream.forward("CreateVms", b"{}")
    assert answer.status == 200 and answer.body == b'{"by": "new"}'
    assert old.sent == [] and new.sent == ["CreateVms"]  # sent once, by the new key


def test_a_wiped_key_with_no_new_one_means_the_session_ended() -> None:
    session = Session()
    upstream = SessionUpstream(session)  # type: ignore[arg-type]
    session.current.secret.wipe()
    with pytest.raises(UpstreamRefused) as info:
        upstream.forward("ReadVms", b"{}")
    assert info.value.error is SESSION_ENDED and session.current.sent == []
