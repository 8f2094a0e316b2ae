"""Undoing a previous set-up (`mfa-setup --remove`), with the same guard: before deleting the rule
this tool created, restore a way in that needs no certificate and prove it on a new connection."""

from __future__ import annotations

import re
from functools import partial

from app.session import errors as E
from app.session.api import OutscaleClient
from app.session.setup.account import MARKER, AccountSnapshot, read_snapshot
from app.session.setup.apply import Runner, SetupFailed
from app.session.setup.plan import SetupRefused
from app.session.setup.report import SetupReport, Step, explain

_RETIRED = re.compile(r"\bretired=(\d+)\b")


def _retired(description: str | None) -> int:
    m = _RETIRED.search(description or "")
    return int(m.group(1)) if m else 0


def removal_steps(snapshot: AccountSnapshot) -> list[str]:
    """What `--remove` would do on this account, in plain words (empty: nothing of ours is there)."""
    rules, cas = snapshot.ours()
    out = []
    if rules and any(_retired(r.description) for r in rules) and not snapshot.ip_only_rules():
        if snapshot.policy.require_trusted_env:
            out.append("Turn the trusted session off (an IP-only rule cannot exist with it).")
        ranges = ", ".join(_restore_ranges(snapshot)) or "any IPv4 address"
        out.append(f"Re-create an IP-only rule for {ranges} (the addresses the set-up replaced) "
                   "and prove it.")
    out += [f"Delete rule {r.rule_id} (created by this tool)." for r in rules]
    out += [f"Delete CA {c.ca_id} (uploaded by this tool)." for c in cas]
    return out


def _restore_ranges(snapshot: AccountSnapshot) -> tuple[str, ...]:
    rules, _ = snapshot.ours()
    return tuple(dict.fromkeys(r for rule in rules for r in rule.ip_ranges)) or ("0.0.0.0/0",)


class Remover(Runner):
    """`--remove`: restore a certificate-free way in if the set-up took it away, prove it, then delete
    what the set-up created."""

    def remove(self) -> SetupReport:
        """Remove what previous runs created; never raises for API errors (see the report)."""
        report = SetupReport("remove")
        try:
            admin = self._working_client()
            snapshot = read_snapshot(admin)
            rules, cas = snapshot.ours()
            if not rules and not cas:
                self._record(report, Step("Nothing to remove", True, "no rule or CA of this tool is there"))
                report.ok = True
                return report
            self._restore_way_in(admin, snapshot, report)
            for r in rules:
                delete = partial(admin.delete_api_access_rule, r.rule_id)
                self._step(report, f"Delete rule {r.rule_id}", delete, lambda _: "")
                report.deleted.append(r.rule_id)
            others = [r for r in snapshot.rules if r not in rules]
            for c in cas:
                if any(c.ca_id in r.ca_ids for r in others):
                    self._record(report, Step(f"Keep CA {c.ca_id}", True, "another rule still names it"))
                    continue
                self._step(report, f"Delete CA {c.ca_id}", partial(admin.delete_ca, c.ca_id), lambda _: "")
                report.deleted.append(c.ca_id)
            self._prove_plain(report, "Verify without a certificate (new connection)")
            report.ok = True
        except Exception as e:
            report.error = explain(e)
        finally:
            self._final_snapshot(report)
            self._close_all()
        return report

    def _working_client(self) -> OutscaleClient:
        try:
            client = self._client(certificate=True)
            client.read_api_access_policy()
            return client
        except E.SessionError:
            client = self._client(certificate=False)
            client.read_api_access_policy()
            return client

    def _restore_way_in(self, admin: OutscaleClient, snapshot: AccountSnapshot, report: SetupReport) -> None:
        rules, _ = snapshot.ours()
        if snapshot.ip_only_rules() or not any(_retired(r.description) for r in rules):
            if not snapshot.ip_only_rules() and len(rules) == len(snapshot.rules):
                raise SetupRefused("Removing would leave no rule at all: nothing was changed.")
            self._prove_plain(report, "Prove a way in without the certificate (new connection)")
            return
        pol = snapshot.policy
        if pol.require_trusted_env:
            self._step(report, "Turn the trusted session off",
                       lambda: admin.update_api_access_policy(pol.max_access_key_expiration_seconds, False),
                       lambda _: "")
        ranges = _restore_ranges(snapshot)
        rule = self._step(report, "Re-create an IP-only rule",
                          lambda: admin.create_api_access_rule(
                              ip_ranges=ranges, description=f"Restored by {MARKER.split()[0]} --remove"),
                          lambda r: f"{r.rule_id} for {', '.join(ranges)}")
        report.created.append(rule.rule_id)
        self._prove_plain(report, "Prove the restored rule (new connection, no certificate)")

    def _prove_plain(self, report: SetupReport, name: str) -> None:
        def call() -> None:
            try:
                self._client(certificate=False).read_api_access_rules()
            except E.UnmatchedApiAccessRules as e:
                raise SetupFailed("Without the certificate the API refuses (Code 14): the rules left would "
                                  "lock you out, so the rule this tool created was kept.") from e
        self._step(report, name, call, lambda _: "a call without the certificate passes")
