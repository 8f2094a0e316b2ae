"""The local API agent on the session window: its endpoint, the local access key, a button that copies
the `env` lines, and how many calls it forwarded. The flow (flows/session_view.py) starts the agent and
puts this panel on the window; the settings file's `local_agent` (default true) and `publish_profile`
(a profile name, default none) choose how it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFormLayout, QGroupBox, QLabel, QPushButton

if TYPE_CHECKING:
    from app.session.agent.attach import AgentHandle, AgentOptions


def agent_options_from(store: Any) -> AgentOptions:
    """AgentOptions from the app settings (`local_agent`, `publish_profile` in the settings file)."""
    from app.session.agent.attach import AgentOptions
    from app.ui.settings import SettingsStore

    extras = (store or SettingsStore()).load().extras
    name = extras.get("publish_profile")
    return AgentOptions(enabled=extras.get("local_agent", True) is not False,
                        publish_profile=name if isinstance(name, str) and name else None)


class AgentPanel(QGroupBox):
    """What the session window shows about the agent."""

    def __init__(self, handle: AgentHandle) -> None:
        super().__init__()
        self.setTitle(self.tr("Your OUTSCALE tools (local API agent)"))
        self.setObjectName("agentPanel")
        self._handle = handle
        form = QFormLayout(self)
        self.endpoint = self._value("agentEndpoint", handle.endpoint)
        self.access_key = self._value("agentAccessKey", handle.access_key)
        self.forwarded = self._value("agentForwarded", "0")
        self.copy_button = QPushButton(self.tr("Copy the environment lines"))
        self.copy_button.setObjectName("agentCopyEnv")
        self.copy_button.setToolTip(self.tr("For a shell: OSC_ENDPOINT_API, OSC_ACCESS_KEY, OSC_SECRET_KEY, "
                                            "OSC_REGION, OSC_CONFIG_FILE, OSC_PROFILE "
                                            "(`osc-trusted-login env`)"))
        self.copy_button.clicked.connect(self.copy_env)
        form.addRow(self.tr("Endpoint:"), self.endpoint)
        form.addRow(self.tr("Access key:"), self.access_key)
        form.addRow(self.tr("Calls forwarded:"), self.forwarded)
        if handle.profile_file is not None:
            form.addRow(self.tr("Profile:"), self._value("agentProfile", " / ".join(handle.profile_names)))
        form.addRow(self.copy_button)

    @staticmethod
    def _value(name: str, text: str) -> QLabel:
        lbl = QLabel(text)
        lbl.setObjectName(name)
        lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return lbl

    def env_text(self) -> str:
        """The `env` lines (sh) of this session's agent."""
        from app.session.agent.runtime import env_lines

        return env_lines(self._handle.info, "sh")

    def copy_env(self) -> None:
        """Put the `env` lines on the clipboard."""
        QApplication.clipboard().setText(self.env_text())

    def set_forwarded(self, count: int) -> None:
        """Show the count of forwarded calls."""
        self.forwarded.setText(str(count))

    def set_ended(self) -> None:
        """The session ended: the pair is dead."""
        self.copy_button.setEnabled(False)
        self.access_key.setText(self.tr("(ended)"))
