"""What a run did, step by step, what it undid, and what the account looks like now; errors in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.session import errors as E
from app.session.setup.account import AccountSnapshot, describe_account


@dataclass
class Step:
    """One step of a run: what, whether it worked, and in plain words what happened."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class SetupReport:
    """The outcome of a set-up, a removal or a dry run (mutable while the run goes on; one thread)."""

    action: str  # "apply", "remove" or "dry-run"
    ok: bool = False
    steps: list[Step] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # ids this run created and kept
    deleted: list[str] = field(default_factory=list)  # ids this run deleted and did not restore
    undone: list[str] = field(default_factory=list)  # rollback actions that worked
    not_undone: list[str] = field(default_factory=list)  # rollback actions that failed (say so!)
    certificate_required: bool | None = None  # verified: a call without the certificate gets Code 14
    error: str | None = None
    account: AccountSnapshot | None = None  # read at the end (None: could not be read)

    def lines(self) -> list[str]:
        """The report in plain words."""
        out = [("OK   " if s.ok else "FAIL ") + s.name + (f": {s.detail}" if s.detail else "")
               for s in self.steps]
        if self.error:
            out.append(f"Stopped: {self.error}")
        out += [f"Undone: {u}" for u in self.undone]
        out += [f"NOT undone: {u}" for u in self.not_undone]
        if self.action != "dry-run":
            if self.ok:
                out.append("Done." if self.action == "apply" else "Removed.")
            elif self.not_undone:
                out.append("Half-done: some changes could not be undone (listed above); "
                           "the account is as below.")
            else:
                out.append("Nothing this run changed is left: the account is as it was.")
        if self.certificate_required is True:
            out.append("Checked: a call without your certificate is refused (Code 14).")
        elif self.certificate_required is False:
            out.append("Checked: a call without a certificate still passes (an IP-only rule lets it in).")
        if self.account is not None:
            out.append("The account now:")
            out += ["  " + line for line in describe_account(self.account)]
        else:
            out.append("The account could not be read at the end: check it in Cockpit.")
        return out

    def to_json(self) -> dict[str, object]:
        """A JSON-ready view of the report."""
        return {
            "action": self.action, "ok": self.ok, "error": self.error,
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
            "created": self.created, "deleted": self.deleted, "undone": self.undone,
            "not_undone": self.not_undone, "certificate_required": self.certificate_required,
            "account": self.account.to_json() if self.account else None,
        }


def explain(error: BaseException) -> str:
    """An error met during set-up, in plain words (with what OUTSCALE said, never a bare code)."""
    text = str(error).strip() or type(error).__name__
    if isinstance(error, E.UnmatchedApiAccessRules):
        text = ("The account's API access rules refused the request (Code 14): the certificate (its CA or "
                "common name) or this computer's address is not allowed by any rule.")
    elif isinstance(error, E.QuotaExceeded):
        text = f"A quota of the account is reached, so OUTSCALE refused to create more. {text}"
    elif isinstance(error, E.Throttled):
        text = f"OUTSCALE asked to slow down and kept refusing after the retries. {text}"
    elif isinstance(error, E.InvalidParameter) and getattr(error, "call", None) == "CreateCa":
        text = f"OUTSCALE refused the CA certificate. {text}"
    elif isinstance(error, E.ClientCertRejected):
        text = f"The API's TLS layer refused your certificate (its CA is not accepted). {text}"
    details = getattr(error, "details", None)
    if isinstance(error, E.ApiError) and details and details not in text:
        text += f" OUTSCALE said: {details}"
    return text
