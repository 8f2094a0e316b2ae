"""Reading objects on a token: searches and the attributes the inventory and the signer need.

These run on the module's worker thread (inside `Pkcs11Module.call`), on binding sessions.
"""

from __future__ import annotations

from typing import Any

from pkcs11 import Attribute, Mechanism, ObjectClass

from app.tokens.p11.ckr import REMOVED, ckr_name, map_error
from app.tokens.p11.readings import ObjectReading


def mech_name(m: Any) -> str:
    """The CKM_ name without its prefix, or the hex code of a vendor mechanism."""
    return m.name if isinstance(m, Mechanism) else f"0x{int(m):08x}"


def text(b: Any) -> str:
    """A CK_UTF8CHAR field as a trimmed string."""
    if isinstance(b, bytes):
        return b.decode("utf-8", "replace").strip()
    return str(b).strip()


def find_objects(session: Any, attrs: dict[Any, Any]) -> list[Any]:
    """C_FindObjects*, materialised; checks the token first.

    python-pkcs11 leaves its search marked active when C_FindObjectsInit fails, and then raises
    from a finaliser (an "exception ignored" on a dead device); C_GetTokenInfo fails cleanly first.
    """
    session.token.slot.get_token()
    return list(session.get_objects(attrs))


_KIND = {
    ObjectClass.CERTIFICATE: "certificate",
    ObjectClass.PRIVATE_KEY: "private_key",
    ObjectClass.PUBLIC_KEY: "public_key",
}
_WANTED = {
    "certificate": (Attribute.ID, Attribute.LABEL, Attribute.VALUE),
    "private_key": (
        Attribute.ID,
        Attribute.LABEL,
        Attribute.KEY_TYPE,
        Attribute.ALWAYS_AUTHENTICATE,
        Attribute.SIGN,
        Attribute.PRIVATE,
    ),
    "public_key": (Attribute.ID, Attribute.LABEL, Attribute.KEY_TYPE, Attribute.MODULUS_BITS),
}


def read_class(session: Any, cls: ObjectClass, errors: list[str]) -> tuple[ObjectReading, ...]:
    """Every object of one class with its attributes; an unreadable one comes back with `error` set."""
    kind = _KIND[cls]
    try:
        # materialise the search first: no other operation may run while C_FindObjects is active
        objs = list(session.get_objects({Attribute.CLASS: cls}))
    except REMOVED as e:
        raise map_error(e, during="C_FindObjects") from e
    except Exception as e:
        errors.append(f"{kind} search: {ckr_name(e) or e}")
        return ()
    out = []
    for obj in objs:
        try:
            attrs = obj.get_attributes(list(_WANTED[kind]))
        except REMOVED as e:
            raise map_error(e, during="C_GetAttributeValue") from e
        except Exception as e:
            out.append(ObjectReading(kind, error=f"attributes unreadable ({ckr_name(e) or e})"))
            continue
        out.append(_reading(kind, attrs))
    return tuple(out)


def _reading(kind: str, attrs: dict[Any, Any]) -> ObjectReading:
    kt = attrs.get(Attribute.KEY_TYPE)
    return ObjectReading(
        object_class=kind,
        cka_id=bytes(attrs.get(Attribute.ID) or b""),
        label=text(attrs.get(Attribute.LABEL) or ""),
        value=bytes(attrs[Attribute.VALUE]) if attrs.get(Attribute.VALUE) is not None else None,
        key_type=getattr(kt, "name", None) if kt is not None else None,
        key_bits=int(attrs[Attribute.MODULUS_BITS]) if attrs.get(Attribute.MODULUS_BITS) else None,
        always_authenticate=(
            bool(attrs[Attribute.ALWAYS_AUTHENTICATE]) if Attribute.ALWAYS_AUTHENTICATE in attrs else None
        ),
        can_sign=bool(attrs[Attribute.SIGN]) if Attribute.SIGN in attrs else None,
        private=bool(attrs[Attribute.PRIVATE]) if Attribute.PRIVATE in attrs else None,
    )
