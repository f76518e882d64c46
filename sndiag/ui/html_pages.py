"""The gate's own pages (sign-in, refused), as self-contained HTML: no script, no app assets,
so they can be served to a client that has not signed in."""

from __future__ import annotations

import html

__all__ = ["page", "refused_page"]

_STYLE = """
body { font-family: system-ui, sans-serif; background: #f6f7f9; color: #1f2328; margin: 0; }
main { max-width: 26rem; margin: 12vh auto; background: #fff; padding: 2rem 2.2rem;
       border-radius: 12px; box-shadow: 0 1px 4px rgba(0,0,0,.12); }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; } p { line-height: 1.45; }
.muted { color: #59636e; font-size: .92rem; }
label { display: block; margin: 1rem 0 .3rem; font-weight: 600; }
label .muted { font-weight: 400; }
input { width: 100%; box-sizing: border-box; padding: .55rem .6rem; font-size: 1rem;
        border: 1px solid #c8ccd1; border-radius: 6px; }
button, a.button { display: inline-block; margin-top: 1.2rem; padding: .6rem 1.1rem;
        font: inherit; border: 0; border-radius: 6px; background: #2F6FDE; color: #fff;
        text-decoration: none; cursor: pointer; }
.error { background: #fdecea; color: #8a1c13; padding: .6rem .8rem; border-radius: 6px; }
.note { background: #eaf2fd; color: #1b4a91; padding: .6rem .8rem; border-radius: 6px; }
"""


def page(body: str, title: str = "Sign in · sndiag") -> str:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")


def refused_page(text: str) -> str:
    """The page of a refused request (403: signed in, but not on the allow-list)."""
    return page(f"<h1>sndiag</h1><p class=\"error\" role=\"alert\">{html.escape(text)}</p>"
                 f"<a class=\"button\" href=\"/auth/logout\">Sign out</a>",
                 title="Not allowed · sndiag")
