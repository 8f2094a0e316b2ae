"""Stores of this computer: certificates where operators already keep them.

`base` (the ComputerStore protocol every backend implements), `nss_paths` (where Chrome and Firefox
keep their NSS databases, binding-free), `nss` (those databases read through NSS's softokn),
`windows` (CurrentUser\\My through crypt32/ncrypt), `macos` (the keychain through the Security
framework), `computer` (every store of this platform, merged with the cards). Import the submodule
you need: this file imports nothing, so the Windows and macOS backends never load on Linux.
"""
