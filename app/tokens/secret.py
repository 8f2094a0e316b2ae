"""The one wrapper for a secret in memory (PIN, password, secret key): never in a repr, str or pickle."""

from __future__ import annotations

from typing import Any, ClassVar


class SecretWiped(ValueError):
    """The secret was wiped (its owner ended) while someone still held it."""


class SecretValue:
    """A secret held in memory only. Its repr/str never show the value; `wipe()` forgets it.

    Subclasses name what they hold (`_what`), which words the repr and the errors.
    """

    __slots__ = ("_value",)
    _what: ClassVar[str] = "secret"

    def __init__(self, value: str) -> None:
        self._value: str | None = value

    def reveal(self) -> str:
        """The value itself, for the one call that must use it."""
        if self._value is None:
            raise SecretWiped(f"this {self._what} was wiped")
        return self._value

    def wipe(self) -> None:
        """Forget the value (Python strings cannot be zeroed; dropping the reference is what we can do)."""
        self._value = None

    @property
    def wiped(self) -> bool:
        """True once `wipe()` was called."""
        return self._value is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(***)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[Any, ...]:  # never pickled into a file or across a process
        raise TypeError(f"a {self._what} cannot be serialised")
