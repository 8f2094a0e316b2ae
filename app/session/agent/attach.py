"""Start the agent with a session and take it down with it (GUI and headless alike).

`attach_agent(session, region=..., ...)` makes the local pair, starts the server, writes the runtime
file and the per-session config file, publishes the profile when asked, starts the key renewal
(app.session.renewal: long runs outlive one temporary key) and watches the session: when it ends, the
runtime file and the profile go, the pair is wiped and the port answers TrustedSessionEnded until
`close()`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from app.session.agent import profile as profiles
from app.session.agent.pair import LocalPair, new_local_pair
from app.session.agent.runtime import (
    CONFIG_NAME,
    AgentInfo,
    ensure_dir,
    profiles_for,
    remove_runtime,
    runtime_dir,
    write_runtime,
)
from app.session.agent.server import AgentServer, AgentStats
from app.session.agent.upstream import SessionUpstream, SessionView
from app.session.agent.verify import RequestVerifier
from app.session.renewal import KeyRenewer

log = logging.getLogger(__name__)


class _Ends(SessionView, Protocol):
    def wait_ended(self, timeout: float | None = None) -> bool:
        """Block until the session ended."""
        ...


@dataclass(frozen=True)
class AgentOptions:
    """How the agent runs with a session (the product's defaults)."""

    enabled: bool = True  # a setting turns it off
    publish_profile: str | None = None  # opt-in: a profile in the tools' config file
    upstream_slots: int = 4  # calls in flight upstream (the mTLS pool keeps 6: two for the rest)
    renew_keys: bool = True  # renew the temporary key before it expires (long runs go on)
    renew_check_seconds: float = 1.0  # how often the renewal thread looks at the key's expiry


class AgentHandle:
    """The running agent of one session."""

    def __init__(self, server: AgentServer, pair: LocalPair, info: AgentInfo, folder: Path,
                 env: Mapping[str, str] | None) -> None:
        self.server = server
        self.pair = pair
        self.info = info
        self.runtime_folder = folder
        self.profile_file: Path | None = None
        self.profile_names: list[str] = []
        self.renewer: KeyRenewer | None = None
        self._env = env
        self._ended = threading.Lock()
        self._done = False

    @property
    def endpoint(self) -> str:
        """The agent's URL (OSC_ENDPOINT_API)."""
        return self.info.endpoint

    @property
    def access_key(self) -> str:
        """The local access key (shown in the session window)."""
        return self.pair.access_key

    def stats(self) -> AgentStats:
        """The forwarded/refused/failed counters."""
        return self.server.stats()

    def end(self) -> None:
        """The session ended: refuse everything, remove the runtime file and the profile, wipe the pair."""
        with self._ended:
            if self._done:
                return
            self._done = True
        self.server.end()
        try:
            remove_runtime(self.runtime_folder, pid=os.getpid())
        except OSError:
            log.warning("agent: the runtime file could not be removed")
        if self.profile_file is not None:
            try:
                profiles.unpublish(self.profile_file, self.profile_names, self.pair.access_key, env=self._env)
            except (OSError, profiles.ProfileError):
                log.warning("agent: the published profile could not be removed; it is cleaned at next start")
        self.pair.secret_key.wipe()

    def close(self) -> None:
        """End, then stop listening."""
        self.end()
        self.server.close()


def attach_agent(session: _Ends, *, region: str, account_id: str | None = None,
                 options: AgentOptions | None = None, env: Mapping[str, str] | None = None,
                 on_forwarded: Callable[[int], None] | None = None) -> AgentHandle | None:
    """Start the agent for a live session (None when the options turn it off)."""
    from app.policy import current

    options = options or AgentOptions()
    policy = current()
    if not options.enabled or not policy.allows_local_agent:
        return None  # turned off, or the organisation's policy says local_agent: false
    if options.publish_profile and not policy.allows_publish_profile:
        log.warning("agent: no profile published: not allowed by your organisation (publish_profile: false)")
        options = replace(options, publish_profile=None)
    try:
        profiles.clean_stale(env=env)
    except OSError:
        log.warning("agent: stale published profiles could not be cleaned")
    folder = ensure_dir(runtime_dir(env))
    pair = new_local_pair()
    upstream = SessionUpstream(session, slots=options.upstream_slots)
    server = AgentServer(RequestVerifier(pair, region), upstream, on_forwarded=on_forwarded)
    endpoint = server.start()
    info = AgentInfo(endpoint=endpoint, region=region, access_key=pair.access_key, secret_key=pair.secret_key,
                     pid=os.getpid(), config_file=str(folder / CONFIG_NAME), account_id=account_id)
    handle = AgentHandle(server, pair, info, folder, env)
    try:
        write_runtime(folder, info)
        if options.publish_profile:
            handle.profile_names = list(profiles_for(info, options.publish_profile))
            handle.profile_file = profiles.publish(info, options.publish_profile, env=env)
    except BaseException:
        handle.close()
        raise
    threading.Thread(target=_follow, args=(session, handle), name="agent-follow", daemon=True).start()
    if options.renew_keys and callable(getattr(session, "renew_key", None)):
        handle.renewer = KeyRenewer(session, check_seconds=options.renew_check_seconds).start()
    return handle


def _follow(session: _Ends, handle: AgentHandle) -> None:
    session.wait_ended(None)
    handle.end()
