"""What ``st.markdown`` shows for text escaped by :func:`sndiag.text.markdown`."""

from __future__ import annotations

import re

__all__ = ["shown"]

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def shown(markdown_text: str) -> str:
    r"""The text a reader sees: the backslash escapes of ASCII punctuation removed.

    Examples
    --------
    >>> shown(r"mine\.npy \[x\]\(y\)")
    'mine.npy [x](y)'
    """
    return _ESCAPED.sub(r"\1", markdown_text)
