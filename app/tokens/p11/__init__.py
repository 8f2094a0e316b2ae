"""The PKCS#11 driver fence: the only package that imports the binding (python-pkcs11).

One file per concern: `module` (a loaded library and its token readings), `login` (logins and
signatures), `ckr` (binding errors -> typed errors), `executor` (the serial worker), `objects`
(object searches), `readings` (the plain values handed out, binding-free), `registry` (load, look
up, re-scan, unload) and `provisioning` (writing test/demo tokens; not on the product's path).
Import the submodule you need: this file imports nothing, so `app.tokens.p11.readings` stays
binding-free.
"""
