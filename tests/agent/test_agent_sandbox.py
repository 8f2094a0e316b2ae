"""The agent on real parts: the sandbox requiring the card's CA, the p11-kit card, osc-sdk-python and
osc-cli as the tools (processes in a private HOME), the sandbox's call log as the proof of what went
through."""

from __future__ import annotations

import base64
import datetime as _dt
import time
from collections.abc import Callable

import pytest
import requests

from app.sandbox.server import Sandbox
from app.session.agent.attach import AgentOptions
from app.session.agent.runtime import child_environment, read_runtime, runtime_dir
from app.session.model import EventKind, SessionState
from app.session.signing import osc4_headers
from app.tokens.pin import PinPurpose
from tests.agent.conftest import AgentRig, SdkTool
from tests.rigs.p11kit import P11KitCard


def gone_soon(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """True once `check()` holds (polled: nothing notifies a file's removal), False after `seconds`."""
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def sdk_env(rig: AgentRig) -> dict[str, str]:
    """The variables `env` prints (read from the runtime file), applied to the private environment."""
    info = read_runtime(runtime_dir(rig.env))
    assert info is not None
    return child_environment(info, rig.env)


def test_osc_sdk_python_through_the_agent_card_in_grace_and_after_the_end(rig: AgentRig) -> None:
    tool = SdkTool(sdk_env(rig))
    try:
        before = len(rig.served())
        got = tool.call("ReadVms")
        assert "ok" in got, got
        assert [v["VmId"] for v in got["ok"]["Vms"]] == [v["VmId"] for v in rig.api.state.book.demo().vms]
        # an API error comes back as the API gave it (status, Code, RequestId)
        bad = tool.call("DeleteAccessKey", {"AccessKeyId": "NOSUCHKEY00000000000"})
        assert "error" in bad and "status = 400, code = 4000" in bad["text"], bad
        # forwarded once each, signed with the session's temporary key (never the local one)
        log = [(c.call, c.status, c.code, c.access_key) for c in rig.served()[before:]]
        assert log == [("ReadVms", 200, None, rig.info.temporary_key_id),
                       ("DeleteAccessKey", 400, "4000", rig.info.temporary_key_id)]
        assert rig.agent.stats().forwarded == 2

        # GRACE: the calls go on while the session can make them (its kept connection)...
        rig.card.remove()
        rig.events.state(SessionState.GRACE)
        assert "ok" in tool.call("ReadVms")
        # ...and fail closed, saying why, when a call would need the card (a new full handshake)
        http = rig.session._connection
        http.drop_connections()
        http.tickets.clear()
        n = len(rig.served())
        paused = tool.call("ReadVms")
        assert "error" in paused and "status = 503" in paused["text"], paused
        assert len(rig.served()) == n

        # the end: a clear error, nothing forwarded, the runtime file gone
        rig.session.logout()
        rig.session.wait_ended(30)
        ended = tool.call("ReadVms")
        assert "error" in ended and "status = 401" in ended["text"], ended
        # (the logout's own DeleteAccessKey needs the card too here, so nothing at all reached the API)
        assert [c.call for c in rig.served()[n:]] in ([], ["DeleteAccessKey"])
        # The agent follows the session from its own thread: the file goes right after the end is seen.
        assert gone_soon(lambda: read_runtime(runtime_dir(rig.env)) is None)
    finally:
        tool.close()


def test_the_account_rules_need_the_certificate_and_the_agent_brings_it(rig: AgentRig) -> None:
    info = rig.api.info
    assert info is not None
    body = b"{}"
    host = info.endpoint.split("/")[2].split(":")[0]
    headers = osc4_headers(access_key=info.access_key, secret_key=info.secret_key, region=info.region,
                           host=host, path="/api/v1/ReadVms", body=body)
    direct = requests.post(f"{info.endpoint}/ReadVms", data=body, headers=headers, verify=info.ca_file,
                           timeout=30)
    assert direct.status_code == 401 and direct.json()["Errors"][0]["Type"] != "", direct.text
    through = rig.signed("ReadVms")
    assert through.status_code == 200, through.text


def _codes(resp: requests.Response) -> tuple[int, str, str]:
    err = resp.json()["Errors"][0]
    return resp.status_code, err["Code"], err["Type"]


def test_refusals_forward_nothing(rig: AgentRig) -> None:
    good = rig.signed("ReadVms", {"Filters": {"VmIds": ["i-1"]}})
    assert good.status_code == 200, good.text  # the helper signs correctly: refusals below are real
    n = len(rig.served())
    now = _dt.datetime.now(_dt.UTC)
    demo = rig.api.info
    assert demo is not None
    refused = {
        "wrong secret": rig.signed("ReadVms", secret="X" * 40),
        "foreign key": rig.signed("ReadVms", access_key=demo.access_key, secret=demo.secret_key),
        "stale date": rig.signed("ReadVms", now=now - _dt.timedelta(minutes=10)),
        "future date": rig.signed("ReadVms", now=now + _dt.timedelta(minutes=10)),
        "unsigned": rig.http.post(f"{rig.agent.endpoint}/ReadVms", data=b"{}", timeout=30),
    }
    for name, resp in refused.items():
        assert _codes(resp) == (401, "1", "AccessDenied"), name
    # a replay of a call that changes something: the very same signed request again
    params = {"AccessKeyId": "NOSUCHKEY00000000000"}
    first = rig.signed("DeleteAccessKey", params, now=now)
    again = rig.signed("DeleteAccessKey", params, now=now)
    assert first.status_code == 400 and _codes(again) == (401, "1", "AccessDenied")
    assert "replay" in again.json()["Errors"][0]["Details"]
    # (a read may come twice within the same second: tools do that, and it changes nothing)
    assert rig.signed("ReadVms", now=now).status_code == rig.signed("ReadVms", now=now).status_code == 200
    # login/password
    basic = "Basic " + base64.b64encode(f"{demo.login}:{demo.password}".encode()).decode()
    resp = rig.http.post(f"{rig.agent.endpoint}/ReadAccessKeys", data=b"{}", timeout=30,
                         headers={"Authorization": basic, "Content-Type": "application/json"})
    assert _codes(resp) == (401, "9", "AuthFailure")
    # web pages: Origin, fetch metadata, a foreign Host (DNS rebinding), a CORS preflight
    browser = [
        rig.signed("ReadVms", {"Filters": {"VmIds": ["i-3"]}}, extra={"Origin": "https://evil.example"}),
        rig.signed("ReadVms", {"Filters": {"VmIds": ["i-4"]}}, extra={"Sec-Fetch-Site": "cross-site"}),
        rig.signed("ReadVms", {"Filters": {"VmIds": ["i-5"]}}, host=f"evil.example:{rig.agent.server.port}"),
        rig.signed("ReadVms", {"Filters": {"VmIds": ["i-6"]}}, host=f"localhost:{rig.agent.server.port}"),
        rig.http.options(f"{rig.agent.endpoint}/ReadVms", timeout=30, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}),
    ]
    for resp in browser:
        assert _codes(resp)[:2] == (403, "1"), resp.text
    for resp in [*refused.values(), again, *browser, good]:
        assert not any(h.lower().startswith("access-control-") for h in resp.headers)
    assert rig.http.get(f"{rig.agent.endpoint}/ReadVms", timeout=30).status_code == 405
    # only `first` and the two reads reached the API
    assert [c.call for c in rig.served()[n:]] == ["DeleteAccessKey", "ReadVms", "ReadVms"]
    assert rig.served()[n].body == first.request.body
    assert rig.agent.stats().forwarded == 4


@pytest.mark.parametrize("api", [{"key_lifetime_seconds": 6}], indirect=True)
def test_a_long_run_outlives_the_temporary_key(api: Sandbox, p11kit_card: P11KitCard,
                                               user_env: dict[str, str]) -> None:
    rig = AgentRig(api, p11kit_card, user_env, options=AgentOptions(renew_check_seconds=0.1))
    tool = SdkTool(sdk_env(rig))
    try:
        first = rig.info.temporary_key_id
        results = []
        deadline = time.monotonic() + 60
        # calls go on until the key has been replaced twice (each key lives 6 s on the sandbox clock)
        while (rig.agent.renewer is not None and rig.agent.renewer.renewals < 2
               and time.monotonic() < deadline):
            results.append(tool.call("ReadVms", {"Filters": {"TagKeys": [f"n{len(results)}"]}}))
        results.append(tool.call("ReadVms"))
        assert all("ok" in r for r in results), [r for r in results if "ok" not in r][:3]
        assert rig.agent.renewer is not None and rig.agent.renewer.renewals >= 2
        assert rig.session.state is SessionState.ACTIVE
        created = [e for e in rig.events.events if e.kind is EventKind.KEY_CREATED and "replaces" in e.data]
        assert created[0].data["replaces"] == first
        reads = [c.access_key for c in rig.served() if c.call == "ReadVms"]
        assert len(set(reads)) >= 2 and reads[-1] == rig.session.key_expiry()[0] and rig.local_key_unseen()
        # the replaced keys are deleted; one key remains, the session's current one
        live = [k.access_key_id for k in api.access_keys() if k.tag and "osc-trusted-login" in k.tag]
        assert live == [rig.session.key_expiry()[0]]
        assert [r.purpose for r in rig.pins] == [PinPurpose.LOGIN]  # no new PIN
    finally:
        tool.close()
        rig.close()
    assert [k for k in api.access_keys() if k.tag and "osc-trusted-login" in k.tag] == []
