"""Configuration: the OUTSCALE tools' ``~/.osc/config.json`` profiles and ``OSC_*`` environment, and
this application's own settings (a JSON file in the platform's config folder).

Everything takes its paths and environment as parameters (defaults: the real ones), so tests never
touch the real home. Precedence for a profile value: environment (``OSC_*``) > the profile in the
file > defaults (Region eu-west-2). ``OSC_PROFILE`` picks the profile (default ``default``) and
``OSC_CONFIG_FILE`` the file. A missing default file is not an error; a missing named profile, or
an unreadable/corrupt file, raises ConfigError, and a corrupt file is never overwritten silently.
Writes are atomic (temporary file + rename in the same folder) and owner-only (0600).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from app.session.errors import ConfigError
from app.session.model import Secret
from app.session.regions import DEFAULT_REGION
from app.tokens.errors import FileRefused
from app.tokens.safefile import MAX_CONFIG_BYTES, check_private, make_private_dir, read_bounded
from app.tokens.uri import certificate_uri

APP_NAME = "osc-trusted-login"
SETTINGS_FILE = "settings.json"
DEFAULT_PROFILE = "default"

#: Environment variable -> profile field, as the OUTSCALE tools read them.
ENV_FIELDS: dict[str, str] = {
    "OSC_ACCESS_KEY": "access_key",
    "OSC_SECRET_KEY": "secret_key",
    "OSC_LOGIN": "login",
    "OSC_PASSWORD": "password",
    "OSC_REGION": "region",
    "OSC_ENDPOINT_API": "endpoint_api",
    "OSC_X509_CLIENT_CERT": "x509_client_cert",
    "OSC_X509_CLIENT_KEY": "x509_client_key",
}
_SECRET_FIELDS = frozenset({"secret_key", "password"})


@dataclass(frozen=True)
class OscProfile:
    """One resolved profile. Secrets are wrapped; `sources` says where each value came from
    (``"env:OSC_REGION"``, ``"file:/path#profile"`` or ``"default"``)."""

    name: str
    access_key: str | None = None
    secret_key: Secret | None = field(default=None, repr=False)
    login: str | None = None
    password: Secret | None = field(default=None, repr=False)
    region: str = DEFAULT_REGION
    endpoint_api: str | None = None
    x509_client_cert: str | None = None  # a PEM/PKCS#12 path, or a "pkcs11:" URI (RFC 7512; our extension)
    x509_client_key: str | None = None  # a PEM path, or a "pkcs11:" URI
    config_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def client_cert_is_pkcs11(self) -> bool:
        """True when the certificate (or key) is named by a PKCS#11 URI (a card)."""
        return any(
            v is not None and v.startswith("pkcs11:") for v in (self.x509_client_cert, self.x509_client_key)
        )

    @property
    def certificate_ref(self) -> str | None:
        """The certificate to log in with: a card URI given as x509_client_cert or x509_client_key (a
        key URI stands for its certificate: same token and id), else the x509_client_cert file."""
        for value in (self.x509_client_cert, self.x509_client_key):
            if value is not None and value.startswith("pkcs11:"):
                try:
                    return certificate_uri(value)
                except ValueError:
                    return value  # the login reports the malformed URI in its own words
        return self.x509_client_cert

    @property
    def has_access_key(self) -> bool:
        """Whether the profile gives both an access key and its secret key."""
        return bool(self.access_key and self.secret_key)

    @property
    def has_login(self) -> bool:
        """Whether the profile gives both a login and its password."""
        return bool(self.login and self.password)


def default_osc_config_path(home: Path | str | None = None) -> Path:
    """``~/.osc/config.json`` (of `home` when given)."""
    return Path(home if home is not None else Path.home()) / ".osc" / "config.json"


def _read_json_object(path: Path, what: str = "configuration file") -> dict[str, Any] | None:
    """The JSON object in `path`; None when the file does not exist; ConfigError when unusable.

    A file that can point the session elsewhere is refused when another user could have written it
    (OpenSSH's rule), and it is read only if it is a regular file of a bounded size.
    """
    try:
        raw = read_bounded(path, MAX_CONFIG_BYTES, what=what)  # first: a device or FIFO is said to be one
        check_private(path, what=what)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        return None
    except FileRefused as e:
        raise ConfigError(str(e), path=str(path)) from e
    except OSError as e:
        raise ConfigError(f"Cannot read {path}: {e.strerror or e}.", path=str(path)) from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text; fix or remove it.", path=str(path)) from e
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{path} is not valid JSON (line {e.lineno}, column {e.colno}); fix or remove it.", path=str(path)
        ) from e
    except RecursionError as e:  # thousands of nested brackets: no config is shaped like that
        raise ConfigError(f"{path} is nested too deeply to be a configuration; fix or remove it.",
                          path=str(path)) from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object.", path=str(path))
    return data


def load_osc_config(path: Path | str) -> dict[str, dict[str, Any]]:
    """All profiles of an osc config file ({} when the file does not exist)."""
    p = Path(path)
    data = _read_json_object(p)
    if data is None:
        return {}
    for name, prof in data.items():
        if not isinstance(prof, dict):
            raise ConfigError(f"Profile '{name}' in {p} must be a JSON object.", path=str(p))
    return data


def list_profiles(path: Path | str) -> tuple[str, ...]:
    """Profile names in an osc config file, in file order."""
    return tuple(load_osc_config(path))


def _profile_values(raw: Mapping[str, Any], where: str) -> dict[str, tuple[Any, str]]:
    out: dict[str, tuple[Any, str]] = {}
    for key in ("access_key", "secret_key", "region", "x509_client_cert", "x509_client_key", "password"):
        v = raw.get(key)
        if isinstance(v, str) and v != "":
            out[key] = (v, where)
    login = raw.get("login") or raw.get("email")  # osc-sdk-python still reads "email"
    if isinstance(login, str) and login:
        out["login"] = (login, where)
    endpoints = raw.get("endpoints")
    if isinstance(endpoints, dict) and isinstance(endpoints.get("api"), str) and endpoints["api"]:
        out["endpoint_api"] = (endpoints["api"], where)
    return out


def resolve_profile(
    profile: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_file: Path | str | None = None,
    home: Path | str | None = None,
) -> OscProfile:
    """Resolve a profile as the OUTSCALE tools do (see the module docstring for precedence).

    `env` defaults to ``os.environ``; `config_file` to ``$OSC_CONFIG_FILE`` or ``~/.osc/config.json``.
    """
    env = os.environ if env is None else env
    name = profile or env.get("OSC_PROFILE") or DEFAULT_PROFILE
    explicit_file = config_file or env.get("OSC_CONFIG_FILE")
    path = Path(explicit_file) if explicit_file else default_osc_config_path(home)
    profiles = load_osc_config(path)
    if explicit_file and not path.exists():
        raise ConfigError(f"The configuration file {path} does not exist.", path=str(path))
    values: dict[str, tuple[Any, str]] = {}
    asked = profile is not None or bool(env.get("OSC_PROFILE"))
    if name in profiles:
        values.update(_profile_values(profiles[name], f"file:{path}#{name}"))
    elif asked or explicit_file:
        known = ", ".join(profiles) or "none"
        raise ConfigError(f"No profile '{name}' in {path} (profiles: {known}).", path=str(path))
    for var, fld in ENV_FIELDS.items():
        v = env.get(var)
        if v:
            values[fld] = (v, f"env:{var}")
    kwargs: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for fld, (v, where) in values.items():
        kwargs[fld] = Secret(v) if fld in _SECRET_FIELDS else v
        sources[fld] = where
    if "region" not in kwargs:
        sources["region"] = "default"
    return OscProfile(name=name, config_file=str(path), sources=sources, **kwargs)


# --- atomic owner-only writes ----------------------------------------------------------------------


def write_json_atomic(path: Path | str, data: Any) -> None:
    """Write JSON to `path` atomically (temp file + fsync + rename), mode 0600; folder made 0700 if new."""
    p = Path(path)
    make_private_dir(p.parent)  # a new folder (and its new parents) 0700; an existing one is left as is
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dfd = os.open(p.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save_osc_profile(path: Path | str, name: str, values: Mapping[str, Any]) -> None:
    """Create or update one profile of an osc config file, keeping the others untouched.

    Refuses (ConfigError) when the existing file is corrupt. Values that are None are removed.
    """
    p = Path(path)
    profiles = load_osc_config(p)
    current = dict(profiles.get(name, {}))
    for k, v in values.items():
        if v is None:
            current.pop(k, None)
        else:
            current[k] = v.reveal() if isinstance(v, Secret) else v
    profiles[name] = current
    write_json_atomic(p, profiles)


# --- application settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class AppSettings:
    """This application's settings (no secret ever: passwords go to the OS keyring, PINs nowhere)."""

    pkcs11_modules: tuple[str, ...] = ()  # extra PKCS#11 module paths
    store_folders: tuple[str, ...] = ()  # folders scanned for PKCS#12/PEM certificates
    extra_ca_bundle: str | None = None  # extra trust anchors (enterprise TLS inspection, sandbox)
    language: str | None = None  # e.g. "fr"; None follows the system
    remembered_login: str | None = None  # the last login / access key id (not a secret)
    remembered_region: str | None = None
    remembered_endpoint: str | None = None
    remembered_certificate: str | None = None  # a pkcs11: URI or a file path
    remember_login: bool = False
    grace_override_seconds: float | None = None  # may only shorten the policy's grace
    extras: Mapping[str, Any] = field(default_factory=dict, compare=False)  # unknown keys, kept on save


def default_settings_path(config_dir: Path | str | None = None) -> Path:
    """The settings file in the platform's config folder (or in `config_dir`)."""
    base = (
        Path(config_dir)
        if config_dir is not None
        else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    )
    return base / SETTINGS_FILE


_TUPLE_FIELDS = {"pkcs11_modules", "store_folders"}
_SETTINGS_FIELDS = {f.name for f in fields(AppSettings)} - {"extras"}


def _settings_from(data: Mapping[str, Any], path: Path) -> AppSettings:
    kwargs: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for k, v in data.items():
        if k not in _SETTINGS_FIELDS:
            extras[k] = v
            continue
        if v is None:
            continue
        if k in _TUPLE_FIELDS:
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ConfigError(f"'{k}' in {path} must be a list of strings.", path=str(path))
            kwargs[k] = tuple(v)
        elif k == "remember_login":
            if not isinstance(v, bool):
                raise ConfigError(f"'{k}' in {path} must be true or false.", path=str(path))
            kwargs[k] = v
        elif k == "grace_override_seconds":
            if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                raise ConfigError(f"'{k}' in {path} must be a positive number of seconds.", path=str(path))
            kwargs[k] = float(v)
        else:
            if not isinstance(v, str):
                raise ConfigError(f"'{k}' in {path} must be a string.", path=str(path))
            kwargs[k] = v
    return AppSettings(extras=extras, **kwargs)


def load_settings(path: Path | str | None = None) -> AppSettings:
    """Read the app settings (defaults when the file does not exist; ConfigError when corrupt)."""
    p = Path(path) if path is not None else default_settings_path()
    data = _read_json_object(p, "settings file")
    return AppSettings() if data is None else _settings_from(data, p)


def settings_to_json(settings: AppSettings) -> dict[str, Any]:
    """The JSON form of the settings (unknown keys kept)."""
    out: dict[str, Any] = dict(settings.extras)
    for f in fields(AppSettings):
        if f.name == "extras":
            continue
        v = getattr(settings, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def save_settings(
    settings: AppSettings, path: Path | str | None = None, *, replace_corrupt: bool = False
) -> None:
    """Write the app settings atomically (0600).

    If the existing file is corrupt, raise ConfigError unless `replace_corrupt`, in which case the
    corrupt file is first kept aside as ``settings.json.corrupt`` (never silently lost).
    """
    p = Path(path) if path is not None else default_settings_path()
    try:
        _read_json_object(p, "settings file")
    except ConfigError:
        if not replace_corrupt:
            raise
        backup = p.with_name(p.name + ".corrupt")
        os.replace(p, backup)
    write_json_atomic(p, settings_to_json(settings))


def update_settings(path: Path | str | None = None, **changes: Any) -> AppSettings:
    """Load, change some fields, save; returns the new settings."""
    p = Path(path) if path is not None else default_settings_path()
    new = replace(load_settings(p), **changes)
    save_settings(new, p)
    return new
