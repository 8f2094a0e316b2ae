"""Setting up certificate login (API access rules naming a CA) on an account without locking it out.

`account` reads and tells what the account has (CAs, rules, policy); `plan` chooses the CA (refusing
one that did not issue the certificate) and proposes the rule, the IP-only rules it replaces and the
optional trusted-session policy; `apply` applies a plan in an order that keeps a way in at every step,
proves the certificate on new mutual-TLS connections before relying on it, verifies after and undoes
what the run did on failure; `remove` undoes a previous run with the same guard; `connect` opens the
connections; `report` tells the outcome in plain words. Drivers: app/cli/mfa_setup.py and the dialog
in app/ui/mfa_setup_dialog.py.
"""

from __future__ import annotations

from app.session.setup.account import MARKER, AccountSnapshot, describe_account, read_snapshot
from app.session.setup.apply import Runner, SetupFailed
from app.session.setup.connect import Connector, MtlsConnector, Opened
from app.session.setup.plan import (
    SetupOptions,
    SetupPlan,
    SetupRefused,
    choose_ca,
    load_pem_certificates,
    make_plan,
)
from app.session.setup.remove import Remover, removal_steps
from app.session.setup.report import SetupReport, Step, explain

__all__ = [
    "MARKER",
    "AccountSnapshot",
    "Connector",
    "MtlsConnector",
    "Opened",
    "Remover",
    "Runner",
    "SetupFailed",
    "SetupOptions",
    "SetupPlan",
    "SetupRefused",
    "SetupReport",
    "Step",
    "choose_ca",
    "describe_account",
    "explain",
    "load_pem_certificates",
    "make_plan",
    "read_snapshot",
    "removal_steps",
]
