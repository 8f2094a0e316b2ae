"""The agent on real parts: the sandbox requiring the card's CA, the p11-kit card, osc-sdk-python and
osc-cli as the tools (processes in a private HOME), the sandbox's call log as the proof of what went
through."""

# ruff: noqa: F811
from __future__ import annotations

import datetime as _dt
import json
import os
import stat
from pathlib import Path

import pytest

from app.session.agent.runtime import RUNTIME_NAME, read_runtime, runtime_dir
from app.session.model import SessionState
from tests.agent.conftest import AgentRig, run_osc_cli, run_sdk


def sdk_env(rig: AgentRig) -> dict[str, str]:
    """The variables `env` prints, applied to the private environment."""
    from app.session.agent.runtime import child_environment

    info = read_runtime(runtime_dir(rig.env))
    assert info is not None
    return child_environment(info, rig.env)


def test_osc_sdk_python_reads_vms_through_the_agent_and_errors_pass_unchanged(rig: AgentRig) -> None:
    env = sdk_env(rig)
    before = len(rig.served())
    got, bad = run_sdk(env, ("ReadVms", {}), ("DeleteAccessKey", {"AccessKeyId": "NOSUCHKEY00000000000"}))
    assert "ok" in got, got
    assert [v["VmId"] for v in got["ok"]["Vms"]] == [v["VmId"] for v in rig.api.state.book.demo().vms]
    # forwarded once each, signed with the session's temporary key (never the local one)
    log = [(c.call, c.status, c.code, c.access_key) for c in rig.served()[before:]]
    assert log == [("ReadVms", 200, None, rig.info.temporary_key_id),
                   ("DeleteAccessKey", 400, "4000", rig.info.temporary_key_id)]
    # an API error comes back as the API gave it (status, Code)
    assert "error" in bad and "status = 400, code = 4000" in bad["text"], bad
    assert rig.agent.stats().forwarded == 2


def test_osc_cli_reads_vms_through_the_published_profile(rig: AgentRig) -> None:
    pass
