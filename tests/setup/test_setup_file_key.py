# ruff: noqa: F811 - pytest fixtures are imported from tests.rigs.sandbox and used as arguments
"""The MFA set-up core (app.session.setup) against the sandbox with a file key: plan, prove, apply,
verify, roll back on injected failures, dry run, removal."""

from __future__ import annotations

import pytest

from app.sandbox.server import Sandbox, SandboxInfo
from app.session import errors as E
from app.session.setup import Remover, Runner, SetupOptions, SetupRefused, removal_steps
from app.tokens.signer import SoftwareSigner
from tests.rigs.sandbox import ClientPki, _shared_server_pki, client_pki, sandbox, sandbox_info  # noqa: F401
from tests.setup.conftest import connector, plain_client


def _signer(pki: ClientPki, name: str = "alice", *, with_chain: bool = False) -> SoftwareSigner:
    issued = pki.issued[name]
    assert issued.key is not None
    chain = (pki.ca.certificate,) if with_chain else ()
    return SoftwareSigner(issued.key, issued.certificate, chain, description=f"{name} file key")  # type: ignore[arg-type]


def _state(sb: Sandbox) -> tuple[list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]], int, bool]:
    """The account's rules (ranges, CA ids, CNs), CA count and trusted-env flag, to compare states."""
    st = sb.state
    rules = sorted((tuple(r.ip_ranges), tuple(r.ca_ids), tuple(r.cns)) for r in st.access.rules.values())
    return rules, len(st.access.cas), st.book.demo().require_trusted_env


def test_fresh_account_end_to_end_then_remove(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    signer = _signer(client_pki, with_chain=True)  # the file holds the CA: no CA file to give
    runner = Runner(connector(sandbox_info, signer))
    before = _state(sandbox)
    plan = runner.plan(signer, SetupOptions(trusted_session_seconds=None))
    assert plan.ok and plan.existing_ca_id is None and plan.rule_cns == ("alice",)
    assert plan.rule_ip_ranges == ("0.0.0.0/0",)  # the default rule's addresses: not widened
    assert len(plan.retire_rule_ids) == 1 and any("Delete the IP-only rule" in s for s in plan.steps())
    assert _state(sandbox) == before  # planning changes nothing
    report = runner.apply(plan)
    assert report.ok, report.lines()
    assert report.certificate_required is True
    assert report.account is not None and not report.account.ip_only_rules()
    with pytest.raises(E.UnmatchedApiAccessRules):
        plain_client(sandbox_info).read_vms()
    # bob (same CA, another CN) is refused too: the rule pins alice's CN
    with pytest.raises(E.UnmatchedApiAccessRules):
        Runner(connector(sandbox_info, _signer(client_pki, "bob"))).read_account()
    text = "\n".join(report.lines())
    assert "Done." in text and "only with a certificate issued by" in text
    # a second run finds everything in place: nothing to create
    again = runner.plan(signer, SetupOptions())
    assert again.existing_ca_id and again.existing_rule_id and not again.retire_rule_ids

    snapshot = runner.read_account()
    assert any("Re-create an IP-only rule" in s for s in removal_steps(snapshot))
    removed = Remover(connector(sandbox_info, signer)).remove()
    assert removed.ok, removed.lines()
    assert _state(sandbox)[0] == [(("0.0.0.0/0",), (), ())] and _state(sandbox)[1] == 0
    assert plain_client(sandbox_info).read_vms()


def test_wrong_ca_is_refused_before_anything(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    signer = _signer(client_pki)
    seen = sandbox.request_count
    runner = Runner(connector(sandbox_info, signer))
    with pytest.raises(SetupRefused, match="did not issue your certificate"):
        runner.plan(signer, SetupOptions(), [client_pki.other_ca.certificate])
    with pytest.raises(SetupRefused, match="not on the card or in the file"):
        runner.plan(signer, SetupOptions())  # the file holds only the leaf and no CA was given
    assert sandbox.request_count == seen  # not one call was made


@pytest.mark.parametrize("after", ["CreateCa", "CreateApiAccessRule", "DeleteApiAccessRule"])
def test_injected_failure_rolls_back(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki, after: str
) -> None:
    signer = _signer(client_pki)
    runner = Runner(connector(sandbox_info, signer))
    plan = runner.plan(signer, SetupOptions(), [client_pki.ca.certificate])
    before = _state(sandbox)
    sandbox.fail_after(after)
    report = runner.apply(plan)
    assert not report.ok and report.error and "unavailable" in report.error.lower()
    assert report.not_undone == [] and report.undone
    rules, cas, trusted = _state(sandbox)
    assert rules == before[0] and trusted == before[2]  # the rules are as they were
    assert cas == 0  # the CA this run uploaded is gone
    assert plain_client(sandbox_info).read_vms()  # still reachable without a certificate
    assert "Nothing this run changed is left" in "\n".join(report.lines())


def test_trusted_session_and_its_preconditions(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    signer = _signer(client_pki)
    runner = Runner(connector(sandbox_info, signer))
    plan = runner.plan(signer, SetupOptions(trusted_session_seconds=3600), [client_pki.ca.certificate])
    assert not plan.ok and sandbox_info.access_key in plan.problems[0]  # the demo key never expires
    with pytest.raises(SetupRefused):
        runner.apply(plan)
    keep = runner.plan(signer, SetupOptions(keep_ip_rules=True, trusted_session_seconds=3600),
                       [client_pki.ca.certificate])
    assert any("needs every rule to name a CA" in p for p in keep.problems)
    for k in sandbox.access_keys():
        del sandbox.state.keys[k.access_key_id]  # the account's only key goes: the login remains
    plan = runner.plan(signer, SetupOptions(trusted_session_seconds=3600), [client_pki.ca.certificate])
    assert plan.ok, plan.problems
    report = runner.apply(plan)
    assert report.ok, report.lines()
    assert sandbox.state.book.demo().require_trusted_env
    assert sandbox.state.book.demo().max_access_key_expiration_seconds == 3600
    removed = Remover(connector(sandbox_info, signer)).remove()
    assert removed.ok, removed.lines()
    assert not sandbox.state.book.demo().require_trusted_env


def test_keep_ip_rules_says_the_certificate_is_not_required(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    sandbox.set_rules([{"IpRanges": ["127.0.0.0/8", "10.1.0.0/16"]}])
    signer = _signer(client_pki)
    runner = Runner(connector(sandbox_info, signer))
    plan = runner.plan(signer, SetupOptions(keep_ip_rules=True), [client_pki.ca.certificate])
    assert plan.rule_ip_ranges == ("127.0.0.0/8", "10.1.0.0/16") and plan.retire_rule_ids == ()
    assert any("not required yet" in n for n in plan.notes)
    report = runner.apply(plan)
    assert report.ok and report.certificate_required is False
    assert plain_client(sandbox_info).read_vms()


def test_a_refused_create_ca_is_said_in_plain_words(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    signer = _signer(client_pki)
    runner = Runner(connector(sandbox_info, signer))
    plan = runner.plan(signer, SetupOptions(), [client_pki.ca.certificate])
    before = _state(sandbox)
    # the next call, CreateCa, is refused as OUTSCALE refuses a bad CA
    sandbox.fail_next(status=400, code="4047", type_="InvalidParameterValue",
                      details="The CA certificate is not valid.")
    report = runner.apply(plan)
    assert not report.ok and report.error is not None
    assert report.error.startswith("OUTSCALE refused the CA certificate.")
    assert "OUTSCALE said: The CA certificate is not valid." in report.error
    assert report.undone == [] and report.not_undone == [] and _state(sandbox) == before
    assert [s.name for s in report.steps] == ["Upload the CA"] and not report.steps[0].ok


def test_explain_names_each_outscale_error() -> None:
    from app.session.api import error_from_response
    from app.session.setup import explain

    def err(status: int, code: str, type_: str, call: str = "CreateApiAccessRule") -> str:
        body = {"Errors": [{"Code": code, "Type": type_, "Details": "said by the API"}],
                "ResponseContext": {"RequestId": "r"}}
        return explain(error_from_response(status, body, call=call))

    assert "Code 14" in err(401, "14", "AccessDenied") and "not allowed by any rule" in err(401, "14", "x")
    quota = err(400, "10022", "TooManyResources (QuotaExceded)")
    assert quota.startswith("A quota of the account is reached")
    assert err(429, "25", "TooManyRequests").startswith("OUTSCALE asked to slow down")
    assert "OUTSCALE said: said by the API" in err(409, "9002", "ResourceConflict")


def test_remove_with_nothing_to_remove_changes_nothing(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    before = _state(sandbox)
    report = Remover(connector(sandbox_info, _signer(client_pki))).remove()
    assert report.ok and [s.name for s in report.steps] == ["Nothing to remove"] and _state(sandbox) == before


def test_remove_refuses_when_no_certificate_free_way_in_can_be_proved(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    signer = _signer(client_pki)
    runner = Runner(connector(sandbox_info, signer))
    assert runner.apply(runner.plan(signer, SetupOptions(), [client_pki.ca.certificate])).ok
    # as if the set-up had replaced no IP-only rule: removing would leave the account without a way in
    for r in sandbox.state.access.rules.values():
        r.description = (r.description or "").replace("retired=1", "retired=0")
    before = _state(sandbox)
    report = Remover(connector(sandbox_info, signer)).remove()
    assert not report.ok and report.error and "nothing was changed" in report.error
    assert _state(sandbox) == before
    with pytest.raises(E.UnmatchedApiAccessRules):
        plain_client(sandbox_info).read_vms()
