"""Mail text: charsets, HTML as text, and a reply without what it quotes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Chinese mail clients label GBK (and GB18030) text "gb2312"; GB18030 reads all three
CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
                   "euc-cn": "gb18030", "hz-gb-2312": "hz", "ks_c_5601-1987": "cp949",
                   "unknown-8bit": "utf-8", "x-unknown": "utf-8", "us-ascii": "utf-8", "ascii": "utf-8"}
MAX_TEXT = 200_000  # characters of a body kept


def decode(data: bytes, charset: str | None) -> str:
    """``data`` in ``charset`` (its usual mislabelled aliases read as what they
    are), undecodable bytes replaced; UTF-8 when none is named."""
    name = (charset or "utf-8").strip().strip('"').lower()
    name = CHARSET_ALIASES.get(name, name)
    try:
        return data.decode(name, errors="replace")
    except LookupError:  # a charset Python does not know
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("gb18030", errors="replace")


class _Text(HTMLParser):
    BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
                       "ul", "ol", "pre", "hr", "blockquote", "section", "article", "header",
                       "footer", "dd", "dt"})
    SKIP = frozenset({"script", "style", "head", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
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


def html_to_text(html: str) -> str:
    """The text of an HTML body: blocks on their own lines, scripts and styles
    dropped, quoted blocks marked with '> '."""
    parser = _Text()
    parser.feed(html[: MAX_TEXT * 5])
    parser.close()
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
