"""The serial executor: one worker thread per loaded module that owns every call to it.

PKCS#11 libraries are not all thread-safe, a PIN-pad login blocks for as long as the user types, and a
serial queue keeps the order of login / sign / probe obvious. python-pkcs11 releases the GIL during
calls, so a blocked card call never freezes the other threads. Qt-free and binding-free.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SerialExecutor:
    """One worker thread that runs submitted calls one after another (Qt-free)."""

    def __init__(self, name: str) -> None:
        self._ident: int | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name, initializer=self._remember_thread
        )
        self.name = name

    def _remember_thread(self) -> None:
        self._ident = threading.get_ident()

    @property
    def on_worker(self) -> bool:
        """True when called from the worker thread itself."""
        return self._ident == threading.get_ident()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Queue a call; returns its future."""
        return self._pool.submit(fn, *args, **kwargs)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the worker and wait for its result (inline when already on the worker)."""
        if self.on_worker:
            return fn(*args, **kwargs)
        return self._pool.submit(fn, *args, **kwargs).result()

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting calls; finish the queued ones when `wait`."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
