"""User-supplied text made safe to store, print and render.

File names, labels, groups and dataset names come from the user's files, and may hold what a
terminal, a JSON writer or a Markdown renderer must not get raw:

* :func:`clean` turns lone surrogates into visible escapes. Python reads a file name that is not
  valid UTF-8 (the bytes ``b"\\xff\\xfe.wav"``) with ``surrogateescape``, as ``"\\udcff\\udcfe.wav"``;
  such a string cannot be encoded as UTF-8, so printing it or writing it as UTF-8 fails.
  ``clean`` gives ``"\\\\xff\\\\xfe.wav"`` (the bytes, readable); other lone surrogates become
  ``"\\\\ud800"``. Text without surrogates is returned unchanged.
* :func:`printable` also escapes control characters (a newline, a carriage return, ESC,
  bidirectional overrides), so a name printed on a line stays on that line: a file named
  ``"a\\nerror: forged"`` is shown as ``a\\nerror: forged`` and can never start a line of its own.
* :func:`markdown` also escapes every ASCII punctuation character with a backslash, so
  ``st.markdown`` shows the text literally: no link, emphasis, heading, HTML, LaTeX or
  Streamlit directive (``:red[...]``, ``:material/...:``) can be smuggled in through a name.
"""

from __future__ import annotations

import re

__all__ = ["clean", "markdown", "printable"]

_SURROGATE = re.compile("[\ud800-\udfff]")
#: C0/C1 controls, DEL, the Unicode line/paragraph separators and the bidirectional controls.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def _surrogate(m: re.Match[str]) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, read with surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def _control(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(text: str) -> str:
    r"""``text`` with lone surrogates replaced by visible escapes, so it encodes as UTF-8.

    Examples
    --------
    >>> clean("dog/a.wav")
    'dog/a.wav'
    >>> clean("\udcff\udcfe.wav"), clean("a\ud800b")
    ('\\xff\\xfe.wav', 'a\\ud800b')
    >>> clean("\udcff.wav").encode()
    b'\\xff.wav'
    """
    text = str(text)
    return _SURROGATE.sub(_surrogate, text) if _SURROGATE.search(text) else text


def printable(text: str) -> str:
    r"""``text`` as one line: surrogates and control characters escaped.

    Examples
    --------
    >>> printable("a\nerror: forged")
    'a\\nerror: forged'
    >>> printable("\x1b[31mred\x1b[0m \udcff")
    '\\x1b[31mred\\x1b[0m \\xff'
    """
    return _CONTROL.sub(_control, clean(text))


def markdown(text: str) -> str:
    r"""``text`` for ``st.markdown``/``st.caption``: shown literally, on one line.

    Every ASCII punctuation character is backslash-escaped (CommonMark renders an escaped
    punctuation character as itself), which disables links, autolinks, emphasis, headings,
    tables, inline HTML, LaTeX and Streamlit's ``:color[...]`` and ``:icon:`` directives.

    Examples
    --------
    >>> markdown("[Session expired](https://evil.example/login)")
    '\\[Session expired\\]\\(https\\:\\/\\/evil\\.example\\/login\\)'
    >>> markdown("dog_1 *x*")
    'dog\\_1 \\*x\\*'
    """
    return _PUNCTUATION.sub(r"\\\1", printable(text))
