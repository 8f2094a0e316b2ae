"""The headless trusted session, over and over: login -> ACTIVE -> card pulled -> GRACE (a call made
during it) -> same card back -> ACTIVE -> logout, on a SoftHSM2 card behind p11-kit and the sandbox API
requiring the card's CA. Pass = every figure flat after the warm-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.sandbox.server import Sandbox
from app.session.lifecycle import SessionSettings, TrustedSession
from app.session.model import (
    AuthMethod,
    CertificateChoice,
    Credentials,
    EndReason,
    EventKind,
    LoginRequest,
    Secret,
    SessionState,
)
from app.tokens.pin import Pin
from tests.rigs.events import SessionEvents
from tests.rigs.p11kit import P11KitCard
from tests.soak.sampler import Sampler, run_cycles, soak_seconds

FAST = SessionSettings(watch_interval=0.05, rescan_backoff=(0.05, 0.1, 0.2), tick_seconds=0.2)
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WARMUP = 3


def test_headless_sessions_all_day(api: Sandbox, p11kit_card: P11KitCard) -> None:
    assert api.info is not None
    api.set_log_limit(64)  # the sandbox's records of calls are the rig's, not the client's growth
    card = p11kit_card
    card.module()
    uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
    ended: list[Any] = []

    def cycle(n: int) -> None:
        events = SessionEvents(timeout=20)
        request = LoginRequest(
            credentials=Credentials(AuthMethod.PASSWORD, api.info.login, Secret(api.info.password)),
            region=api.info.region, endpoint=api.info.endpoint, ca_file=api.info.ca_file,
            certificate=CertificateChoice(uri, module_path=card.client_module_path),
        )
        session = TrustedSession(request, pin_callback=lambda req: Pin(card.token.user_pin),
                                 on_event=events, settings=FAST)
        info = session.login()
        events.state(SessionState.ACTIVE)
        session.client.read_vms()
        mark = events.count()
        card.remove()
        events.wait(lambda e: e.kind is EventKind.CARD_REMOVED, after=mark)
        session.client.read_vms()  # still usable during the grace period
        card.insert()
        events.state(SessionState.ACTIVE, after=mark + 1)
        result = session.logout()
        assert result.revoked, result
        assert events.state(SessionState.ENDED).reason is EndReason.LOGOUT
        ended.append(info.temporary_key_id)

    sampler = Sampler()
    cycles = run_cycles(cycle, sampler, soak_seconds(20.0), min_cycles=WARMUP + 4)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "soak-headless.json").write_text(json.dumps(
        {"cycles": cycles, "per_hour": sampler.per_hour(WARMUP),
         "samples": [s.as_dict() for s in sampler.samples]}, indent=1))
    assert len(set(ended)) == cycles  # a new temporary key each time ...
    active = {k.access_key_id for k in api.access_keys() if k.state == "ACTIVE"}
    assert not active & set(ended)  # ... and each one revoked
    assert sampler.problems(WARMUP) == [], sampler.samples[WARMUP:]
