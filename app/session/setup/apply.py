"""Applying a plan without locking the operator out, verifying it, and undoing it on failure.

Order (each step leaves a working way in): upload the CA (harmless: no rule names it yet); prove
with a new mutual-TLS connection that the API takes the certificate; create the rule (harmless: a
request passes if any rule matches, and it keeps the IP ranges of the rules it replaces); prove
again on a new connection, the old rules still standing; only then delete the IP-only rules, over
the proven connection; verify on new connections (the certificate passes, no certificate gets
Code 14); activate the trusted session last. On any failure, undo in reverse what this run did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from cryptography import x509

from app.session import errors as E
from app.session.api import ApiAccessPolicy, ApiAccessRule, OutscaleClient
from app.session.setup.account import AccountSnapshot, read_snapshot
from app.session.setup.connect import Connector, Opened
from app.session.setup.plan import (
    SetupOptions,
    SetupPlan,
    SetupRefused,
    choose_ca,
    make_plan,
    same_fingerprint,
)
from app.session.setup.report import SetupReport, Step, explain
from app.tokens.signer import Signer

log = logging.getLogger(__name__)
T = TypeVar("T")


class SetupFailed(E.SessionError):
    """A step did not give what it must (a proof or a verification); the run is undone."""


@dataclass
class _Journal:
    """What this run changed, to undo in reverse order."""

    ca_id: str | None = None
    rule_id: str | None = None
    retired: list[ApiAccessRule] = field(default_factory=list)
    policy: ApiAccessPolicy | None = None  # the policy before this run changed it


def _recreate(old: ApiAccessRule, client: OutscaleClient) -> object:
    return client.create_api_access_rule(ip_ranges=old.ip_ranges, description=old.description)


class Runner:
    """Runs set-ups and removals over a Connector, reporting each step to `on_step`."""

    def __init__(self, connector: Connector, *, on_step: Callable[[Step], None] | None = None) -> None:
        self._connector = connector
        self._on_step = on_step
        self._open: list[Opened] = []

    # plumbing ------------------------------------------------------------------------------------------

    def _client(self, *, certificate: bool) -> OutscaleClient:
        opened = self._connector.open(certificate=certificate)
        self._open.append(opened)
        return opened.client

    def _close_all(self) -> None:
        for o in self._open:
            try:
                o.close()
            except Exception:  # noqa: S112 - closing is best effort
                continue
        self._open.clear()

    def _step(self, report: SetupReport, name: str, fn: Callable[[], T], ok_text: Callable[[T], str]) -> T:
        try:
            value = fn()
        except Exception as e:
            self._record(report, Step(name, False, explain(e)))
            raise
        self._record(report, Step(name, True, ok_text(value)))
        return value

    def _record(self, report: SetupReport, step: Step) -> None:
        report.steps.append(step)
        log.info("mfa-setup: %s %s", "ok" if step.ok else "FAILED", step.name)
        if self._on_step is not None:
            self._on_step(step)

    def _prove(self, report: SetupReport, name: str, must_list: str | None = None) -> OutscaleClient:
        """A new mutual-TLS connection and a call over it; `must_list`: a rule id the answer must show."""
        def call() -> OutscaleClient:
            client = self._client(certificate=True)
            rules = client.read_api_access_rules()
            if must_list and must_list not in {r.rule_id for r in rules}:
                raise SetupFailed(f"The API does not list the new rule {must_list}.")
            return client
        return self._step(report, name, call, lambda _: "a new mutual-TLS connection with your certificate "
                          "made a call and the API answered")

    def _final_snapshot(self, report: SetupReport) -> None:
        for certificate in (True, False):
            try:
                report.account = read_snapshot(self._client(certificate=certificate))
                return
            except Exception as e:
                log.info("mfa-setup: reading the account %s the certificate failed: %s",
                         "with" if certificate else "without", explain(e))

    # set-up --------------------------------------------------------------------------------------------

    def read_account(self) -> AccountSnapshot:
        """The account now: read with the certificate, or without it when that fails (its CA unknown)."""
        try:
            for certificate in (True, False):
                try:
                    return read_snapshot(self._client(certificate=certificate))
                except E.SessionError:
                    if not certificate:
                        raise
            raise AssertionError("unreachable")
        finally:
            self._close_all()

    def plan(self, signer: Signer, options: SetupOptions,
             ca_certs: Sequence[x509.Certificate] = ()) -> SetupPlan:
        """Choose the CA (a wrong one is refused before any call), read the account, propose the change."""
        ca = choose_ca(signer.certificate, signer.chain, ca_certs)
        return make_plan(self.read_account(), signer.certificate, ca, options)

    def apply(self, plan: SetupPlan) -> SetupReport:
        """Apply `plan` (refused before any call if it has problems); never raises for API errors."""
        if not plan.ok:
            raise SetupRefused(" ".join(plan.problems) + " Nothing was changed.")
        report, journal = SetupReport("apply"), _Journal()
        try:
            self._apply_steps(plan, report, journal)
            report.ok = True
            report.created = [i for i in (journal.ca_id, journal.rule_id) if i]
            report.deleted = [r.rule_id for r in journal.retired]
        except Exception as e:
            report.error = explain(e)
            self._rollback(journal, report)
        finally:
            self._final_snapshot(report)
            self._close_all()
        return report

    def _apply_steps(self, plan: SetupPlan, report: SetupReport, journal: _Journal) -> None:
        admin = self._client(certificate=True)
        ca_id = plan.existing_ca_id
        if ca_id is None:
            ca = self._step(report, "Upload the CA",
                            lambda: admin.create_ca(plan.ca_pem, plan.description("CA")), lambda c: c.ca_id)
            journal.ca_id = ca_id = ca.ca_id
            if ca.fingerprint and not same_fingerprint(ca.fingerprint, plan.ca_fingerprint):
                raise SetupFailed(f"The API stored a CA with another fingerprint ({ca.fingerprint}).")
        # The connection opened before the upload may not carry the certificate: prove on a new one.
        admin = self._prove(report, "Prove the certificate (mutual TLS, old rules in place)")
        if plan.existing_rule_id is None:
            rule = self._step(
                report, "Create the rule",
                lambda: admin.create_api_access_rule(
                    ip_ranges=plan.rule_ip_ranges, ca_ids=[ca_id], cns=plan.rule_cns,
                    description=plan.description(f"rule retired={len(plan.retire_rule_ids)}")),
                lambda r: r.rule_id)
            journal.rule_id = rule.rule_id
            admin = self._prove(report, "Prove the new rule (new mutual-TLS connection, old rules in place)",
                                must_list=rule.rule_id)
        before = {r.rule_id: r for r in (plan.snapshot.rules if plan.snapshot else ())}
        for rid in plan.retire_rule_ids:
            self._step(report, f"Delete the IP-only rule {rid}", partial(admin.delete_api_access_rule, rid),
                       lambda _: "")
            journal.retired.append(before.get(rid) or ApiAccessRule(rid))
        self._verify(plan, report)
        if plan.trusted_session_seconds is not None:
            seconds = plan.trusted_session_seconds
            previous = admin.read_api_access_policy()
            self._step(report, "Activate the trusted session",
                       lambda: admin.update_api_access_policy(seconds, True),
                       lambda p: f"keys live at most {p.max_access_key_expiration_seconds} s")
            journal.policy = previous
            policy = self._client(certificate=True).read_api_access_policy()
            if not policy.require_trusted_env:
                raise SetupFailed("The policy read back does not require a trusted session.")

    def _verify(self, plan: SetupPlan, report: SetupReport) -> None:
        """After the change: the certificate passes on a new connection; without it, Code 14 (when every
        IP-only rule was replaced)."""
        self._prove(report, "Verify with your certificate (new connection)")
        before = plan.snapshot.ip_only_rules() if plan.snapshot else ()
        remaining_ip_only = len(before) > len(plan.retire_rule_ids)
        try:
            self._client(certificate=False).read_api_access_rules()
        except E.UnmatchedApiAccessRules:
            report.certificate_required = True
            self._record(report, Step("Verify without a certificate", True,
                                      "refused with Code 14, as it must"))
            return
        report.certificate_required = False
        if not remaining_ip_only:
            self._record(report, Step("Verify without a certificate", False,
                                      "a call without it still passes"))
            raise SetupFailed("A call without the certificate still passes: the certificate is not required.")
        self._record(report, Step("Verify without a certificate", True,
                                  "still passes: the IP-only rules you kept let it in"))

    # rollback ------------------------------------------------------------------------------------------

    def _rollback_client(self) -> OutscaleClient:
        """A client that works now: with the certificate when it passes, else without."""
        try:
            client = self._client(certificate=True)
            client.read_api_access_policy()
            return client
        except Exception:
            return self._client(certificate=False)

    def _rollback(self, journal: _Journal, report: SetupReport) -> None:
        """Undo in reverse order; every action that fails is said, never hidden."""
        actions: list[tuple[str, Callable[[OutscaleClient], object]]] = []
        if journal.policy is not None:
            p = journal.policy
            actions.append((f"policy restored (trusted session {'on' if p.require_trusted_env else 'off'})",
                            lambda c: c.update_api_access_policy(p.max_access_key_expiration_seconds,
                                                                 p.require_trusted_env)))
        for old in reversed(journal.retired):
            ranges = ", ".join(old.ip_ranges) or "no range"
            actions.append((f"IP-only rule {old.rule_id} re-created ({ranges})", partial(_recreate, old)))
        if journal.rule_id:
            rid = journal.rule_id
            actions.append((f"rule {rid} deleted", lambda c: c.delete_api_access_rule(rid)))
        if journal.ca_id:
            cid = journal.ca_id
            actions.append((f"CA {cid} deleted", lambda c: c.delete_ca(cid)))
        if not actions:
            return
        try:
            client = self._rollback_client()
        except Exception as e:
            report.not_undone += [f"{what} ({explain(e)})" for what, _ in actions]
            return
        for what, act in actions:
            try:
                act(client)
                report.undone.append(what)
            except Exception as e:
                report.not_undone.append(f"{what}: {explain(e)}")
