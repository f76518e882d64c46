"""Zip archives read safely: the directory is checked before any member is inflated.

Used for uploaded zips of class folders (:func:`sndiag.io.clips.from_zip`) and for ``.npz``
files, which are zips of ``.npy`` members (:mod:`sndiag.io.arrays`, :mod:`sndiag.io.streaming`).
:func:`check_archive` refuses, from the archive's directory alone: too many entries, absolute or
``..`` paths (traversal), symbolic links, a total uncompressed size above the limit, and members
compressed beyond a ratio (bombs). :func:`member_reader` then reads one member with a bound of
its declared size.
"""

from __future__ import annotations

import re
import stat
import threading
import zipfile
from collections.abc import Callable, Sequence

from sndiag.config import Limits
from sndiag.errors import ArchiveError, DecodeError

__all__ = ["MB", "RATIO_CHECK_MIN_BYTES", "check_archive", "check_npz", "member_name",
           "member_reader"]

#: Bytes per MB in every ``*_mb`` limit.
MB = 1024 * 1024
#: Zip members smaller than this are exempt from the compression-ratio check: a second of digital
#: silence deflates ~1000:1 yet cannot hurt; the total-size limit still bounds them.
RATIO_CHECK_MIN_BYTES = 1 * MB


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name in posix form; names zipped as UTF-8 without the flag are recovered."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except UnicodeError:
            pass  # a legacy code page: keep zipfile's cp437 reading, it never fails
    return name.replace("\\", "/")


def _unsafe(name: str) -> bool:
    parts = name.split("/")
    return (name.startswith("/") or bool(re.match(r"^[A-Za-z]:", name)) or ".." in parts
            or "\x00" in name)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def check_archive(infos: Sequence[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse an unsafe archive from its directory alone, before any member is read.

    Raises
    ------
    ArchiveError
        With the reason and the limit to raise when the archive is legitimate.
    """
    names = [member_name(i) for i in infos]
    if len(infos) > limits.max_zip_members:
        raise ArchiveError(f"the archive has {len(infos)} entries, above the limit of "
                           f"{limits.max_zip_members}; split it or raise SNDIAG_MAX_ZIP_MEMBERS")
    bad = [n for n in names if _unsafe(n)]
    if bad:
        raise ArchiveError(f"{len(bad)} archive members have absolute paths or '..' "
                           f"(first: {bad[0]!r}); refusing the archive (path traversal)")
    links = [n for i, n in zip(infos, names, strict=True) if _is_symlink(i)]
    if links:
        raise ArchiveError(f"{len(links)} archive members are symbolic links (first: "
                           f"{links[0]!r}); refusing the archive, zip the files themselves")
    total = sum(i.file_size for i in infos)
    if total > limits.max_unzipped_mb * MB:
        raise ArchiveError(f"the archive expands to {total / MB:.1f} MB, above the limit of "
                           f"{limits.max_unzipped_mb:g} MB; split it or raise "
                           "SNDIAG_MAX_UNZIPPED_MB")
    for info, name in zip(infos, names, strict=True):
        if info.file_size < RATIO_CHECK_MIN_BYTES:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_zip_ratio:
            raise ArchiveError(f"archive member {name!r} expands {ratio:.0f}:1 "
                               f"({info.file_size / MB:.1f} MB), above the limit of "
                               f"{limits.max_zip_ratio:g}:1; this looks like a zip bomb "
                               "(if it is not, raise SNDIAG_MAX_ZIP_RATIO)")


def check_npz(zf: zipfile.ZipFile, where: str, limits: Limits) -> None:
    """Refuse an ``.npz`` bomb from its directory, before any array is inflated.

    Stored members (``np.savez``, what sndiag writes) cannot expand: only compressed ones count.
    """
    packed = [i for i in zf.infolist() if i.compress_type != zipfile.ZIP_STORED]
    try:
        check_archive(packed, limits)
    except ArchiveError as exc:
        raise ArchiveError(f"{where}: {exc}") from None


def member_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                  lock: threading.Lock) -> Callable[[], bytes]:
    """A function reading one member (under ``lock``), never more than its declared size."""
    def read() -> bytes:
        try:
            with lock, zf.open(info) as fh:
                data = fh.read(info.file_size + 1)
        except Exception as exc:  # BadZipFile (CRC), zlib.error, NotImplementedError, ...
            raise DecodeError(f"{name}: cannot be read from the archive ({exc})") from None
        if len(data) > info.file_size:
            raise ArchiveError(f"archive member {name!r} holds more than the {info.file_size} "
                               "bytes its header states; refusing the archive")
        return data

    return read
