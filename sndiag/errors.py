"""Every error sndiag raises on purpose.

All of them derive from :class:`SndiagError`, so a caller (the CLI, the dashboard) can catch one
class and show its message; each message names the bad value and says how to fix it.

Hierarchy::

    SndiagError
    ├── ParameterError     a parameter is out of range or inconsistent    (also a ValueError)
    │   └── NotInvertibleError  inverse_transform of a lossy scaler (pcen, clip)
    ├── ShapeError         an array does not have an accepted layout       (also a ValueError)
    ├── DataError          values are unusable: NaN/Inf, pickled objects, wrong dtype, no data
    ├── DecodeError        an audio file cannot be decoded
    ├── ArchiveError       a zip file is unsafe or unreadable (traversal, links, bombs)
    ├── LimitError         an input exceeds a documented limit (size, clip count, duration)
    ├── StoreError         the dataset store cannot read or write an entry
    ├── AccessError        who is asking may not do this (not on the allow-list, not the owner)
    └── WriteError         an output file cannot be written (the old file is kept; also an OSError)
"""

from __future__ import annotations

__all__ = [
    "AccessError",
    "ArchiveError",
    "DataError",
    "DecodeError",
    "LimitError",
    "NotInvertibleError",
    "ParameterError",
    "ShapeError",
    "SndiagError",
    "StoreError",
    "WriteError",
]


class SndiagError(Exception):
    """Base class of all errors raised deliberately by sndiag."""


class ParameterError(SndiagError, ValueError):
    """A parameter is out of range or inconsistent with another one."""


class NotInvertibleError(ParameterError, NotImplementedError):
    """``inverse_transform`` was called on a scaler that loses information (``pcen``, ``clip``)."""


class ShapeError(SndiagError, ValueError):
    """An array does not have one of the accepted layouts."""


class DataError(SndiagError, ValueError):
    """Input values cannot be used: NaN/Inf, pickled objects, wrong dtype, empty input."""


class DecodeError(SndiagError):
    """An audio file cannot be decoded (corrupt, empty, not audio)."""


class ArchiveError(SndiagError):
    """A zip archive is unsafe (path traversal, links, bomb) or unreadable."""


class LimitError(SndiagError):
    """An input exceeds a documented limit (upload size, clip count, clip duration)."""


class StoreError(SndiagError):
    """The dataset store cannot read or write an entry."""


class AccessError(SndiagError):
    """The signed-in user may not do this: enter (allow-list) or delete another's dataset."""


class WriteError(SndiagError, OSError):
    """An output file cannot be written (full disk, no permission); the previous file is kept."""
