"""Label patterns matched in linear time (RE2), with Python's meaning of ``\\w``, ``\\d``, ``\\s``.

A file-name pattern (``--label-regex``, the Data page's pattern) is written by a user and
searched in every file name. Python's backtracking engine can take exponential time on some
patterns: ``(?P<label>(a+)+)b`` against a name of 40 ``a`` never finishes. RE2 (the
``google-re2`` bindings) matches in time linear in the name, whatever the pattern, so a pattern
is compiled by :func:`compile_pattern` for RE2:

* Python's ``re`` checks the syntax first, for its clearer messages;
* ``\\w``, ``\\d``, ``\\s`` (and their negations outside ``[...]``) are rewritten as the Unicode
  classes Python gives them (RE2's are ASCII only, so ``(?P<label>\\w+)`` would cut ``niño``);
* what RE2 cannot match in linear time - lookaround ``(?=...)``, backreferences ``\\1`` - is
  refused with the reason; so is a pattern whose compiled program exceeds :data:`MAX_PROGRAM`.
"""

from __future__ import annotations

import re
from typing import Any

import re2

from sndiag.errors import ParameterError

__all__ = ["MAX_PROGRAM", "compile_pattern"]

#: Memory RE2 may use for one compiled pattern (its default, 8 MB).
MAX_PROGRAM = 8 << 20

_WORD = r"\pL\pN_"
_SPACE = r"\t\n\x0b\x0c\r \x1c-\x1f\x85\p{Z}"
#: Python's Unicode classes as RE2 text, outside and inside a character class (None: kept).
_CLASSES: dict[str, tuple[str, str | None]] = {
    "w": (f"[{_WORD}]", _WORD), "W": (f"[^{_WORD}]", None),
    "d": (r"\p{Nd}", r"\p{Nd}"), "D": (r"\P{Nd}", r"\P{Nd}"),
    "s": (f"[{_SPACE}]", _SPACE), "S": (f"[^{_SPACE}]", None),
}


def _unicode_classes(pattern: str) -> str:
    r"""``pattern`` with ``\w``, ``\d``, ``\s`` ... written as RE2 Unicode classes.

    Examples
    --------
    >>> _unicode_classes(r"(?P<label>\w+)_\d+\.wav")
    '(?P<label>[\\pL\\pN_]+)_\\p{Nd}+\\.wav'
    >>> _unicode_classes(r"[\w-]+\\w")
    '[\\pL\\pN_-]+\\\\w'
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _CLASSES:
                outside, inside = _CLASSES[nxt]
                out.append((inside or pattern[i:i + 2]) if in_class else outside)
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        out.append(c)
        i += 1
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            for lead in ("^", "]"):  # a leading ']' (after an optional '^') is literal
                if pattern[i:i + 1] == lead:
                    out.append(lead)
                    i += 1
    return "".join(out)


def compile_pattern(pattern: str, *, option: str = "label_regex") -> tuple[Any, dict[str, int]]:
    """Compile a user's pattern for linear-time search.

    Parameters
    ----------
    pattern : str
        A Python-style regular expression.
    option : str
        The option's name in messages.

    Returns
    -------
    (compiled, groupindex)
        An RE2 pattern (``.search(text)`` returns a match with ``.group(name)``, or None) and
        the named groups.

    Raises
    ------
    ParameterError
        Invalid syntax, lookaround, backreferences, or a pattern too large to compile.

    Examples
    --------
    >>> rx, groups = compile_pattern(r"(?P<label>\\w+)_(?P<group>[a-z]+)_\\d+\\.wav")
    >>> rx.search("niño_theo_3.wav").group("label"), sorted(groups)
    ('niño', ['group', 'label'])
    >>> rx, _ = compile_pattern(r"(?P<label>(a+)+)b")
    >>> rx.search("a" * 100_000) is None
    True
    >>> compile_pattern(r"(?P<label>a)(?=b)")
    Traceback (most recent call last):
    ...
    sndiag.errors.ParameterError: label_regex='(?P<label>a)(?=b)' uses syntax that linear-time ...
    """
    try:
        groupindex = dict(re.compile(pattern).groupindex)
    except re.error as exc:
        raise ParameterError(f"{option}={pattern!r} is not a valid regular expression ({exc})"
                             ) from None
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PROGRAM
    try:
        compiled = re2.compile(_unicode_classes(pattern), options)
    except re2.error as exc:
        why = exc.args[0].decode(errors="replace") if exc.args and isinstance(
            exc.args[0], bytes) else str(exc)
        raise ParameterError(
            f"{option}={pattern!r} uses syntax that linear-time matching does not support "
            f"({why}): lookaround like (?=...) and backreferences like \\1 are not available; "
            "write the pattern without them") from None
    return compiled, groupindex
