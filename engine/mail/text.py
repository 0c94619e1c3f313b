"""Mail text: charsets, HTML as text, and a reply without what it quotes."""

from __future__ import annotations

import re
from html import unescape

# Chinese mail clients label GBK (and GB18030) text "gb2312"; GB18030 reads all three
CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
                   "euc-cn": "gb18030", "hz-gb-2312": "hz", "ks_c_5601-1987": "cp949",
                   "us-ascii": "utf-8", "ascii": "utf-8"}
MAX_TEXT = 200_000  # characters of a body kept


UNLABELLED = frozenset({"", "unknown-8bit", "x-unknown"})


def decode(data: bytes, charset: str | None) -> str:
    """``data`` in ``charset`` (its usual mislabelled aliases read as what they
    are), undecodable bytes replaced; without a charset (or "unknown-8bit") UTF-8
    if it is that, else GB18030 (what Chinese clients write unlabelled)."""
    name = (charset or "").strip().strip('"').lower()
    if name in UNLABELLED:
        return _guess(data)
    name = CHARSET_ALIASES.get(name, name)
    try:
        return data.decode(name, errors="replace")
    except (LookupError, UnicodeError, ValueError):  # unknown, or no text codec ("idna" takes no "replace")
        return _guess(data)


def _guess(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


class _Text:
    BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
                       "ul", "ol", "pre", "hr", "blockquote", "section", "article", "header",
                       "footer", "dd", "dt"})
    SKIP = frozenset({"script", "style", "head", "title", "template"})

    def __init__(self) -> None:
        self.out: list[str] = []
        self.skip = 0
        self.quote = 0
        self.size = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "blockquote" or any(k == "class" and v and "gmail_quote" in v for k, v in attrs):
            self.quote += 1 if tag == "blockquote" else 0
        if tag in self.BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(self.skip - 1, 0)
        elif tag == "blockquote":
            self.quote = max(self.quote - 1, 0)
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip or self.size > MAX_TEXT:
            return
        if data.strip():
            text = (" " if data[0].isspace() else "") + " ".join(data.split()) + \
                (" " if data[-1].isspace() else "")
        else:
            text = " " if data else ""
        if self.quote and text.strip():
            text = "> " + text
        self.size += len(text)
        self.out.append(text)


_RAW_TEXT = {t: re.compile(f"</{t}", re.IGNORECASE) for t in ("script", "style")}
_TAG = re.compile(r"\s*(/?)\s*([a-zA-Z][a-zA-Z0-9:-]*)")
_ATTR = re.compile(r"""([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")


def _feed(parser: _Text, html: str) -> None:
    """Tags, comments and text of ``html`` to ``parser``, in one pass: every search
    starts where the last one ended, so the work grows with the length of the text
    (html.parser rescans what follows an unclosed ``<a`` or ``<!--`` again and
    again: a 60 KB mail of them took 40 s)."""
    i, n = 0, len(html)
    while i < n:
        lt = html.find("<", i)
        if lt < 0:
            parser.handle_data(unescape(html[i:]))
            return
        if lt > i:
            parser.handle_data(unescape(html[i:lt]))
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            if end < 0:
                return  # an unclosed comment hides the rest, as in a browser
            i = end + 3
            continue
        nxt = html[lt + 1: lt + 2]
        if not (nxt.isalpha() or nxt in ("/", "!", "?")):
            parser.handle_data("<")  # a "<" that opens no tag ("a < b") is text
            i = lt + 1
            continue
        gt = html.find(">", lt + 1)
        if gt < 0:
            return  # an unclosed tag: nothing after it is shown
        inside, i = html[lt + 1:gt], gt + 1
        found = _TAG.match(inside)
        if found is None:  # <!DOCTYPE ...>, <?xml ...?>
            continue
        tag = found.group(2).lower()
        if found.group(1):
            parser.handle_endtag(tag)
            continue
        rest = inside[found.end():]
        attrs = [(k.lower(), unescape(v.strip("\"'")) if v else None) for k, v in _ATTR.findall(rest[:2000])]
        if rest.rstrip().endswith("/"):
            parser.handle_startendtag(tag, attrs)
        else:
            parser.handle_starttag(tag, attrs)
            if tag in _RAW_TEXT:  # raw text up to its end tag (not found: the end of the mail)
                close = _RAW_TEXT[tag].search(html, i)
                if close is None:
                    return
                i = close.start()


def html_to_text(html: str) -> str:
    """The text of an HTML body: blocks on their own lines, scripts and styles
    dropped, quoted blocks marked with '> '."""
    parser = _Text()
    _feed(parser, html[: MAX_TEXT * 5])
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    lines = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# Where a client starts quoting the message replied to (Outlook, Foxmail, Gmail,
# Apple Mail, Thunderbird, in English and Chinese)
QUOTE_START = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:Original Message|原始邮件|原始郵件|Forwarded message|转发邮件)\s*-{2,}"
    r"|-{5,}\s*(?:Original|原始邮件)\s*-{5,}"
    r"|_{10,}"
    r"|(?:From|发件人|發件人)\s*[:：].*"
    r"|On .{4,200}wrote:\s*"
    r"|在\s?.{4,200}写道[:：]?\s*"
    r"|.{0,200}\d{4}.{0,40}写道[:：]\s*"
    r")$", re.IGNORECASE)
SIGNATURE = re.compile(r"^-- ?$")


def reply_part(text: str) -> str:
    """What the sender wrote: the text before the quoted message, lines quoted
    with '>' and the signature dropped."""
    kept: list[str] = []
    for line in text.splitlines():
        if QUOTE_START.match(line) and any(k.strip() for k in kept):
            break
        if SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()
