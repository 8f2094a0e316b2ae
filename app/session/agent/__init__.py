"""The local API agent: the operator's own OUTSCALE tools reach the API through the trusted session.

An HTTP endpoint on 127.0.0.1 (random port) accepts OUTSCALE API requests signed with a **local key
pair** made for this session only, checks them (signature, date skew, replay, browser traits), re-signs
them with the session's temporary key and forwards them over the session's own mutual-TLS transport.
The real temporary key never leaves the app; the local pair dies with the session.

One file a concern:

- `pair`: the local pair (OUTSCALE-shaped, random);
- `verify`: the OSC4-HMAC-SHA256 check of a local request (the canonical request of
  app.session.signing), the skew and the replay cache;
- `wire`: the OUTSCALE-shaped errors the agent itself answers;
- `server`: the loopback HTTP server, its browser refusals and the forwarding (`AgentServer`);
- `http1`: the server's request reading (heads in bulk from a per-connection buffer, http.server's
  bounds and answers) and its one-write answers;
- `upstream`: how the agent follows the session (`SessionUpstream`: state, the current client,
  kept-alive connections bounded by the transport's pool);
- `runtime`: the per-user runtime file (0600, the user's runtime directory) that `exec`/`env` read,
  the per-session osc config file and the environment lines;
- `profile`: the opt-in profile published in the OUTSCALE tools' config file;
- `attach`: starts all of it with a session and removes it at the end (`attach_agent`).

Nothing here imports Qt; the CLI commands (`exec`, `env`) live in app/cli/.
"""

from __future__ import annotations

from app.session.agent.pair import LocalPair, new_local_pair
from app.session.agent.server import AgentServer, ForwardAnswer, Upstream, UpstreamRefused
from app.session.agent.verify import MAX_SKEW_SECONDS, Refused, RequestVerifier

__all__ = [
    "MAX_SKEW_SECONDS",
    "AgentServer",
    "ForwardAnswer",
    "LocalPair",
    "Refused",
    "RequestVerifier",
    "Upstream",
    "UpstreamRefused",
    "new_local_pair",
]
