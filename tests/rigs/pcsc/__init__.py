"""The PC/SC rig: a private pcscd, vpcd readers and emulated PIV cards (see rig.py, host.py, piv.py)."""
