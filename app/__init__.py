"""OUTSCALE Trusted Login: a trusted session with a client certificate, on the desktop."""

__version__ = "0.1.0"
APP_NAME = "OUTSCALE Trusted Login"
