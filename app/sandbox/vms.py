"""What an account sees besides its keys and rules: the Regions and three plausible VMs (read-only)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.sandbox.wire import AuthContext, CallHandler, invalid
from app.session.regions import REGIONS

if TYPE_CHECKING:
    from app.sandbox.accounts import AccountBook


def plausible_vms(rng: secrets.SystemRandom) -> list[dict[str, Any]]:
    """Three VMs shaped like ReadVms answers (two running, one stopped), with random ids."""
    vms = []
    for i, (name, state, vtype) in enumerate(
        [
            ("web-1", "running", "tinav6.c2r4p2"),
            ("db-1", "running", "tinav6.c4r16p1"),
            ("batch", "stopped", "tinav5.c1r2p3"),
        ]
    ):
        n = rng.randrange(0x10000000, 0xFFFFFFFF)
        vms.append(
            {
                "VmId": f"i-{n:08x}",
                "State": state,
                "VmType": vtype,
                "ImageId": f"ami-{n ^ 0x5A5A5A5A:08x}",
                "PrivateIp": f"10.0.0.{10 + i}",
                "Architecture": "x86_64",
                "Hypervisor": "xen",
                "RootDeviceName": "/dev/sda1",
                "RootDeviceType": "ebs",
                "DeletionProtection": False,
                "CreationDate": "2026-01-15T09:30:00.000Z",
                "LaunchNumber": 0,
                "Placement": {"SubregionName": "eu-west-2a", "Tenancy": "default"},
                "Tags": [{"Key": "Name", "Value": name}],
                "SecurityGroups": [{"SecurityGroupId": f"sg-{n:08x}", "SecurityGroupName": "default"}],
            }
            | ({"PublicIp": f"192.0.2.{20 + i}"} if state == "running" else {})
        )
    return vms


class Catalogue:
    """ReadRegions and ReadVms (the VMs are stored on each account record)."""

    def __init__(self, book: AccountBook) -> None:
        self._book = book

    def handlers(self) -> dict[str, CallHandler]:
        """The emulated calls this part answers."""
        return {"ReadRegions": self._call_ReadRegions, "ReadVms": self._call_ReadVms}

    def _call_ReadRegions(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        return {"Regions": [{"RegionName": r, "Endpoint": f"api.{r}.outscale.com"} for r in REGIONS]}

    def _call_ReadVms(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        vms = self._book.accounts[auth.account_id].vms
        per_page = p.get("ResultsPerPage")
        start = 0
        if p.get("NextPageToken"):
            try:
                start = int(bytes.fromhex(str(p["NextPageToken"])).decode() or "0")
            except ValueError as e:
                raise invalid("NextPageToken is invalid.", "4091") from e
        if isinstance(per_page, int) and per_page > 0:
            page = vms[start : start + per_page]
            out: dict[str, Any] = {"Vms": page}
            if start + per_page < len(vms):
                out["NextPageToken"] = str(start + per_page).encode().hex()
            return out
        return {"Vms": vms[start:]}
