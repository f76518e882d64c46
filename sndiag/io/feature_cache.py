"""Spectrograms cached by audio content: a clip decoded once is never decoded again.

A :class:`FeatureCache` maps :func:`cache_key` (a hash of the file's bytes, of the
:class:`~sndiag.config.SpectrogramConfig` and of the versions that could change the numbers) to
one spectrogram image. :class:`DiskCache` keeps one ``.npy`` per key, written atomically;
:class:`MemoryCache` is the in-memory test double. :mod:`sndiag.io.clips` looks clips up here
before decoding them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import librosa
import numpy as np

from sndiag.config import SpectrogramConfig
from sndiag.errors import ParameterError
from sndiag.io.atomic import atomic_write

__all__ = ["CACHE_VERSION", "DiskCache", "FeatureCache", "MemoryCache", "cache_key"]

#: Bumped whenever the extraction pipeline changes what it computes, so stale cache entries miss.
#: (Version 1 images and the current ones agree to float32 rounding; the key need not change.)
CACHE_VERSION = 1

_KEY = re.compile(r"^[0-9a-f]{64}$")


def cache_key(data: bytes, config: SpectrogramConfig) -> str:
    """Content key of one clip's spectrogram: SHA-256 of the file's bytes and of the config.

    The key also covers :data:`CACHE_VERSION` and the librosa version, so an upgrade that could
    change the numbers never serves stale images.

    Examples
    --------
    >>> a = cache_key(b"RIFF...", SpectrogramConfig())
    >>> len(a), a == cache_key(b"RIFF...", SpectrogramConfig())
    (64, True)
    >>> a == cache_key(b"RIFF...", SpectrogramConfig(scale="db"))
    False
    """
    h = hashlib.sha256()
    h.update(hashlib.sha256(bytes(data)).digest())
    params = {"config": config.to_dict(), "version": CACHE_VERSION, "librosa": librosa.__version__}
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ParameterError(f"cache key {key!r} must be 64 lowercase hex digits (see cache_key)")
    return key


@runtime_checkable
class FeatureCache(Protocol):
    """Where :mod:`sndiag.io.clips` keeps spectrograms by :func:`cache_key`."""

    def get(self, key: str) -> np.ndarray | None:
        """The image stored under ``key``, or ``None`` on a miss."""
        ...

    def put(self, key: str, S: np.ndarray) -> None:
        """Store one image under ``key`` (overwriting is harmless: same key, same content)."""
        ...


class MemoryCache:
    """A :class:`FeatureCache` in a dict, counting hits and misses: the test double.

    Examples
    --------
    >>> cache = MemoryCache()
    >>> key = cache_key(b"x", SpectrogramConfig())
    >>> cache.get(key) is None
    True
    >>> cache.put(key, np.ones((2, 3)))
    >>> cache.get(key).shape, cache.hits, cache.misses
    ((2, 3), 1, 1)
    """

    def __init__(self) -> None:
        self._items: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            S = self._items.get(_check_key(key))
            if S is None:
                self.misses += 1
                return None
            self.hits += 1
            return S.copy()

    def put(self, key: str, S: np.ndarray) -> None:
        S = np.array(S, dtype=np.float32, copy=True)
        with self._lock:
            self._items[_check_key(key)] = S


class DiskCache:
    """A :class:`FeatureCache` keeping one ``<key>.npy`` per image in ``directory``.

    Each file is written with :func:`sndiag.io.atomic.atomic_write` (a temporary name in the
    same folder, renamed), so concurrent writers and killed processes never leave a torn entry;
    entries are not fsynced (a lost one is recomputed), and an unreadable entry counts as a miss.

    Parameters
    ----------
    directory : str or Path
        Created if missing.

    Examples
    --------
    >>> import tempfile
    >>> cache = DiskCache(tempfile.mkdtemp())
    >>> key = cache_key(b"x", SpectrogramConfig())
    >>> cache.put(key, np.ones((2, 3), dtype=np.float32))
    >>> cache.get(key).sum(), len(cache)
    (np.float32(6.0), 1)
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"cache directory {self.directory} cannot be created ({exc}); "
                                 "give a writable folder") from None

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob("*.npy"))

    def _path(self, key: str) -> Path:
        return self.directory / f"{_check_key(key)}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def put(self, key: str, S: np.ndarray) -> None:
        data = np.ascontiguousarray(S, dtype=np.float32)
        atomic_write(self._path(key), lambda fh: np.save(fh, data, allow_pickle=False),
                     durable=False)
