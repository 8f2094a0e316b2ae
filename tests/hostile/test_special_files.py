"""Class 3, special files: a "certificate" or "config" that is /dev/zero, a FIFO or a huge file is
refused in one plain sentence, without blocking and without reading it whole, and the command ends
within DEADLINE. Real files, the real `osc-trusted-login` commands."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.session.config import load_osc_config, load_settings
from app.session.errors import ConfigError
from app.tokens.errors import FileRefused
from app.tokens.filestore import load_credential, read_file_entries
from app.tokens.safefile import MAX_CONFIG_BYTES, read_bounded
from tests.hostile._cli import private_env, run_cli

pytestmark = pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    p = tmp_path / "card.p12"  # named like a credential: only its type gives it away
    os.mkfifo(p)
    return p


def _one_sentence(text: str) -> None:
    assert "Traceback" not in text
    assert "not a regular file" in text or "bytes at most" in text, text


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_certs_lists_a_special_file_as_refused_and_ends(special: str, fifo: Path, tmp_path: Path) -> None:
    target = str(fifo) if special == "fifo" else special
    ran = run_cli("certs", "--no-modules", "--store", target, env=private_env(tmp_path / "home"))
    _one_sentence(ran.text)
    assert ran.rc == 2  # nothing could be listed, said plainly


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_login_with_a_special_config_or_certificate_ends_with_a_message(
        special: str, fifo: Path, tmp_path: Path) -> None:
    target = str(fifo) if special == "fifo" else special
    env = private_env(tmp_path / "home", OSC_CONFIG_FILE=target, OSC_LOGIN="x@example.com",
                      OSC_PASSWORD="not-used")
    ran = run_cli("login", "--headless", "--cert", "pkcs11:token=x", env=env)
    assert ran.rc == 2
    _one_sentence(ran.err)
    env = private_env(tmp_path / "home", OSC_LOGIN="x@example.com", OSC_PASSWORD="not-used")
    ran = run_cli("login", "--headless", "--cert", target, env=env)
    assert ran.rc == 2 and "not a regular file" in ran.err and "Traceback" not in ran.err


def test_every_local_reader_refuses_special_and_huge_files(fifo: Path, tmp_path: Path) -> None:
    huge = tmp_path / "config.json"
    with huge.open("wb") as f:
        f.truncate(MAX_CONFIG_BYTES + 1)  # sparse: costs no disk
    for target in (fifo, Path("/dev/zero"), huge):
        with pytest.raises(FileRefused):
            read_file_entries(target)
        with pytest.raises(FileRefused):
            load_credential(target, "pw")
        with pytest.raises(ConfigError, match=r"not a regular file|bytes at most"):
            load_osc_config(target)
        with pytest.raises(ConfigError, match=r"not a regular file|bytes at most"):
            load_settings(target)


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path) -> None:
    # /proc files claim size 0 and then give more: the bound holds on the bytes, not on stat
    with pytest.raises(FileRefused, match="grew past"):
        read_bounded("/proc/self/maps", 16, what="file")
    assert read_bounded("/proc/self/maps", 1 << 22, what="file")


def test_a_ca_file_that_is_a_device_or_a_fifo_is_refused_at_once(tmp_path) -> None:
    # --ca-file / Settings' CA bundle / the policy's extra_ca_file: read bounded, regular files only.
    import os

    from app.session.errors import ConfigError
    from app.session.tls.trust import TrustConfig

    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        with pytest.raises(ConfigError) as e:
            TrustConfig(extra_ca_file=path).store()
        assert "not a regular file" in str(e.value)
