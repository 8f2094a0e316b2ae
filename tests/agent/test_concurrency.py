"""20 tools calling through the agent at once for 10 seconds: no failure, no answer given to the wrong
request (each call's answer is checked against what it asked), every call in the sandbox's log once."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from tests.agent.conftest import AgentRig, sdk_client

CLIENTS = 20
SECONDS = 10.0


def _tool(gw: Any, index: int, stop: float, out: list[str], errors: list[str], n_calls: list[int]) -> None:
    n = 0
    while time.monotonic() < stop:
        n += 1
        try:
            if n % 2:
                per_page = 1 + (index + n) % 3
                # a body of its own (the filter changes nothing on the sandbox): the same request twice in
                # one second is a replay to an API that refuses them (the sandbox does)
                got = gw.ReadVms(ResultsPerPage=per_page, Filters={"TagKeys": [f"c{index}-{n}"]})
                if len(got["Vms"]) != per_page:
                    errors.append(f"client {index}: ReadVms({per_page}) got {len(got['Vms'])} VMs")
            else:
                key = f"C{index:02d}N{n:07d}XXXXXXXXX"[:20]
                try:
                    gw.DeleteAccessKey(AccessKeyId=key)
                    errors.append(f"client {index}: DeleteAccessKey({key}) succeeded")
                except requests.HTTPError as e:
                    details = e.response.json()["Errors"][0]["Details"]
                    if key not in details or e.response.status_code != 400:
                        errors.append(f"client {index}: asked {key}, got {e.response.status_code} {details}")
                    out.append(key)
        except Exception as e:  # any failure of the tool counts
            errors.append(f"client {index}: {type(e).__name__}: {e}")
    n_calls[index] = n


def test_twenty_tools_for_ten_seconds(rig: AgentRig, sdk_template: Any) -> None:
    gws = [sdk_client(sdk_template, path=rig.agent.info.config_file, profile="trusted-login")
           for _ in range(CLIENTS)]
    before = len(rig.served())
    keys: list[str] = []
    errors: list[str] = []
    n_calls = [0] * CLIENTS
    stop = time.monotonic() + SECONDS
    threads = [threading.Thread(target=_tool, args=(gw, i, stop, keys, errors, n_calls))
               for i, gw in enumerate(gws)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 60)
    assert errors == []
    assert all(n > 1 for n in n_calls), n_calls
    log = rig.served()[before:]
    assert len(log) == sum(n_calls)
    deleted = sorted(c.body.decode() for c in log if c.call == "DeleteAccessKey")
    assert len(deleted) == len(keys) == len(set(deleted))
    assert {c.access_key for c in log} == {rig.info.temporary_key_id}
    assert rig.agent.stats().forwarded == sum(n_calls) and rig.agent.stats().refused == 0
