"""The organisation's policy, seen in the windows: fields it fixes are read-only and say "Set by your
organisation"; Settings says where the policy comes from. The core enforces the same rules whatever the
windows show (app.session.policy_gate, app.tokens.module_gate): these marks only explain them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QBoxLayout, QLabel, QWidget

from app.policy import Policy, current

if TYPE_CHECKING:
    from app.tokens.model import CertificateEntry
    from app.ui.login import LoginWindow
    from app.ui.settings import SettingsDialog


# translate() with the literal context "policy" at every call: pyside6-lupdate extracts only literal
# arguments (a wrapper taking the text as a variable hides it, and the French is never found).
translate = QCoreApplication.translate


def set_by_organisation() -> str:
    """The words every locked field carries."""
    return translate("policy", "Set by your organisation")


def _lock(widget: QWidget) -> None:
    widget.setEnabled(False)
    widget.setToolTip(set_by_organisation())
    widget.setAccessibleDescription(set_by_organisation())
    widget.setProperty("policyLocked", True)


def _note(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setAccessibleName(set_by_organisation())
    return label


def mark_login_window(window: LoginWindow, policy: Policy | None = None) -> None:
    """Fixed endpoint and "Remember my login" read-only with the organisation's words."""
    from app.session.regions import DEFAULT_REGION
    from app.ui.login import CUSTOM

    policy = policy or current()
    if not policy.present:
        return
    notes: list[str] = []
    fixed = policy.fixed_endpoints
    chosen = policy.default_endpoint
    untouched = window.region_code() == DEFAULT_REGION  # no profile or remembered login chose one
    if chosen is not None and (fixed or untouched):  # a `default` never replaces the user's choice
        region, api = chosen["region"], chosen["api"]
        regions = window._regions  # the window's own list of choices, read only
        standard = region in regions and api.rstrip("/") == f"https://api.{region}.outscale.com/api/v1"
        index = regions.index(region) if standard else regions.index(CUSTOM)
        text = window.endpoint_edit.text() if standard else api

        def put(*_: object) -> None:
            if window.region_combo.currentIndex() != index:
                window.region_combo.setCurrentIndex(index)
            if window.endpoint_edit.text() != text:
                window.endpoint_edit.setText(text)

        put()
        if fixed is not None and len(fixed) == 1:
            _lock(window.region_combo)
            _lock(window.endpoint_edit)
            # a profile or remembered login filled in later cannot move a fixed endpoint either
            window.region_combo.currentIndexChanged.connect(put)
            window.endpoint_edit.textChanged.connect(put)
            notes.append(translate("policy", "Endpoint: %1 (set by your organisation).").replace("%1", api))
        elif fixed:
            notes.append(translate("policy", "Your organisation allows these endpoints only: %1.").replace(
                "%1", ", ".join(e["api"] for e in fixed)))
    if not policy.allows_remember_me:
        window.remember_check.setChecked(False)
        _lock(window.remember_check)
        _lock(window.remember_secret_check)
        notes.append(translate("policy", "Remember my login: off (set by your organisation)."))
    if not policy.file_keys_allowed:
        notes.append(translate("policy",
                               "Smart cards only: keys in files are not allowed by your organisation."))
    if policy.login_blocked():
        notes.append(policy.login_blocked() or "")
    if notes:
        label = _note(" ".join(notes), "policyNote")
        layout = window.layout()
        if isinstance(layout, QBoxLayout):
            layout.insertWidget(1, label)  # under the title, above the form


def mark_settings(dialog: SettingsDialog, policy: Policy | None = None) -> None:
    """Settings: where the policy comes from, and the settings it fixes read-only."""
    policy = policy or current()
    if policy.present:
        text = translate("policy", "Managed by your organisation (%1). Fields it sets are read-only.")
        text = text.replace("%1", ", ".join(policy.sources))
        unknown = (translate("policy", "Unknown key (ignored): %1").replace("%1", k) for k in policy.unknown)
        problems = [*policy.problems, *unknown]
        if problems:
            text += "\n" + "\n".join(problems)
    else:
        text = translate("policy", "No policy is set by your organisation on this computer.")
    label = _note(text, "policySource")
    layout = dialog.layout()
    if isinstance(layout, QBoxLayout):
        layout.insertWidget(0, label)
    if not policy.allows_local_agent:
        dialog.local_agent.setChecked(False)
        _lock(dialog.local_agent)
    if not policy.allows_publish_profile or not policy.allows_local_agent:
        dialog.publish_profile.clear()
        _lock(dialog.publish_profile)
    if policy.is_set("pkcs11_modules.allowed") and not policy.get("pkcs11_modules.user_may_add", False):
        _lock(dialog.add_module)
    if policy.extra_ca_file:
        dialog.ca_edit.setText(policy.extra_ca_file)
        _lock(dialog.ca_edit)


def refusal_for(entry: CertificateEntry, policy: Policy | None = None) -> str | None:
    """Why the organisation does not allow this certificate (the picker greys it), or None. The core
    refuses the same certificate at login (app.session.policy_gate); this only shows it early."""
    from app.session.policy_gate import certificate_refusal

    why = certificate_refusal(entry, policy)
    if why == "source":
        return translate("policy", "not allowed by your organisation (smart cards only)")
    if why == "issuer":
        return translate("policy", "not allowed by your organisation (issuer)")
    return None
