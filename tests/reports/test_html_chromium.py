"""The HTML report opened in a real browser paints its charts (issue #7).

A week of tickets is worked through the CLI (tests/reports/_dataset.py), `itsm
report weekly --format html -o FILE` writes the page, headless Chromium takes a
screenshot of it, and the PNG is decoded here (zlib + struct, no Pillow) to count
the pixels in the chart colours of engine/reports/svg.py: filled blocks (bars,
legend keys) at least as large as the <rect>s declare, and a trend line. The
control: the same page with its <svg> elements removed has (almost) no such
blocks (the stylesheet's headings share the first colour, but as text and a thin
border), so the pixels counted are the charts' and the check can fail.

Chromium is Debian's package (`apt-get install chromium`, /usr/bin/chromium).
Without it the test is skipped, unless ITSM_REQUIRE_CHROMIUM=1 (CI, .ci/run)
makes that a failure. The screenshots go to $ITSM_ARTIFACTS_DIR when it is set
(CI keeps that folder), otherwise to the test's tmp_path.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import zlib
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

import pytest
from _dataset import RUN_AT, WEEK, build

from engine.reports.svg import COLORS

# Wide enough for the page's 60em column, tall enough for the whole weekly report
# (about 5300 px with this dataset): a --screenshot shows the window, not the page.
WIDTH, HEIGHT = 1200, 8000
# Root needs --no-sandbox; the rest keeps Chromium off the (closed) network and
# makes one CSS pixel one screenshot pixel with the colours exactly as written.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
         "--force-color-profile=srgb", "--host-resolver-rules=MAP * ~NOTFOUND")
TIMEOUT = 120
ARTIFACTS = ("report-weekly.html", "report-weekly.png", "report-weekly-no-svg.png")


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "Chromium not installed: apt-get install chromium (see .ci/run)"
    if os.environ.get("ITSM_REQUIRE_CHROMIUM") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _screenshot(chromium: str, page: Path, png: Path, profile: Path) -> None:
    """Headless Chromium renders ``page`` into ``png`` (fresh, empty profile)."""
    profile.mkdir()
    argv = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={png}", page.resolve().as_uri()]
    # Its own session, so that on a timeout the whole browser (zygote, renderer...) goes.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"chromium took more than {TIMEOUT}s on {page}\n{err[-3000:]}")
    log = "\n".join(line for line in (out + err).splitlines() if "dbus" not in line)  # no bus here
    assert proc.returncode == 0 and png.is_file(), f"chromium exited {proc.returncode}\n{log[-3000:]}"


# --- a small PNG decoder: 8-bit RGB or RGBA, not interlaced, filter types 0-4 ------------

def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows): each row ``width`` pixels of R, G, B bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None, "PNG without IHDR"
    width, height, depth, color_type, _, _, interlace = header
    assert depth == 8 and color_type in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = 3 if color_type == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    assert len(raw) == height * (stride + 1), "truncated image data"
    low7 = int.from_bytes(b"\x7f" * stride, "big")
    high = int.from_bytes(b"\x80" * stride, "big")
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:  # Up: every byte plus the one above, mod 256, the whole row at once
            a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
            line = bytearray((((a & low7) + (b & low7)) ^ ((a ^ b) & high)).to_bytes(stride, "big"))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:  # Paeth (inlined: most of the decoding time goes here)
            for i in range(bpp):  # no left neighbour: the predictor is the byte above
                line[i] = (line[i] + prev[i]) & 255
            for i in range(bpp, stride):
                left, up, upleft = line[i - bpp], prev[i], prev[i - bpp]
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upleft)) & 255
        else:
            assert kind == 0, f"unknown PNG filter type {kind} in row {y}"
        prev = bytes(line)
        if bpp == 4:
            del line[3::4]  # drop alpha: the screenshot is opaque
        rows.append(bytes(line))
    return width, height, rows


def count_pixels(rows: list[bytes], color: str) -> int:
    """Pixels of exactly ``color`` ('#rrggbb')."""
    rgb = bytes.fromhex(color.lstrip("#"))
    return sum(sum(1 for x in range(0, len(row), 3) if row[x:x + 3] == rgb) for row in rows if rgb in row)


def _runs(flags: Iterable[int]) -> Iterator[tuple[int, int]]:
    """[start, end) of every run of true values."""
    start = None
    for i, flag in enumerate(chain(flags, [0])):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            yield start, i
            start = None


def solid_pixels(rows: list[bytes], color: str, size: int = 8) -> int:
    """Pixels of exactly ``color`` in a horizontal and a vertical run of at least ``size``
    such pixels: the inside of filled shapes (bars, legend keys), not text, thin
    lines or a 2 px border in that colour."""
    rgb = bytes.fromhex(color.lstrip("#"))
    mask = {y: bytes(row[x:x + 3] == rgb for x in range(0, len(row), 3))
            for y, row in enumerate(rows) if rgb in row}
    wide = {}
    for y, flags in mask.items():
        wide[y] = bytearray(len(flags))
        for start, end in _runs(flags):
            if end - start >= size:
                wide[y][start:end] = b"\x01" * (end - start)
    count = 0
    for top, bottom in _runs(y in mask for y in range(len(rows))):  # bands of rows with the colour
        if bottom - top < size:
            continue
        for x, column in enumerate(zip(*(mask[y] for y in range(top, bottom)), strict=True)):
            for start, end in _runs(column):
                if end - start >= size:
                    count += sum(wide[y][x] for y in range(top + start, top + end))
    return count


def last_painted_row(rows: list[bytes]) -> int:
    white = b"\xff" * len(rows[0])
    return max((y for y, row in enumerate(rows) if row != white), default=-1)


@pytest.mark.parametrize("color_type", [2, 6], ids=["rgb", "rgba"])
def test_png_decoder_undoes_every_filter_type(color_type: int) -> None:
    """The decoder against an image written with each of the five filter types."""
    width, height, bpp = 5, 6, 3 if color_type == 2 else 4
    rgb = [b"".join(bytes((x * 40 + y * 7, 200 - x * 30, (x * y * 13) % 256)) for x in range(width))
           for y in range(height)]
    raw, prev = b"", bytes(width * bpp)
    for y, pixels in enumerate(rgb):
        row = pixels if bpp == 3 else b"".join(pixels[i:i + 3] + b"\xff" for i in range(0, len(pixels), 3))
        kind = y % 5
        out = bytearray()
        for i, v in enumerate(row):
            left, up = (row[i - bpp] if i >= bpp else 0), prev[i]
            upleft = prev[i - bpp] if i >= bpp else 0
            pred = (0, left, up, (left + up) >> 1, _paeth(left, up, upleft))[kind]
            out.append((v - pred) & 255)
        raw += bytes([kind]) + out
        prev = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
           + chunk(b"IEND", b""))
    assert decode_png(png) == (width, height, rgb)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the browser does not care
def test_weekly_html_report_paints_its_charts_in_chromium(itsm, desk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chromium = _chromium()
    artifacts = Path(os.environ["ITSM_ARTIFACTS_DIR"]) if os.environ.get("ITSM_ARTIFACTS_DIR") else tmp_path
    artifacts.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACTS:  # nothing stale from an earlier run
        (artifacts / name).unlink(missing_ok=True)

    build(desk)  # the week of tickets, worked through the CLI
    page = tmp_path / "weekly.html"
    itsm("report", "weekly", "--from", WEEK[0], "--to", WEEK[1], "--format", "html", "-o", str(page),
         now=RUN_AT)
    html = page.read_text(encoding="utf-8")
    shutil.copy(page, artifacts / "report-weekly.html")

    # Self-contained: nothing for the browser to fetch.
    lowered = html.lower()
    external = re.findall(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:)?//""", lowered)
    assert not external, external
    for forbidden in ("<script", "<link", "<iframe", "@import", "url("):
        assert forbidden not in lowered, forbidden

    # The control: the same page without its charts.
    charts = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    assert len(charts) >= 4, "the weekly report draws bar charts and the trend lines"
    control = tmp_path / "weekly-no-svg.html"
    control.write_text(re.sub(r"<svg\b.*?</svg>", "", html, flags=re.DOTALL), encoding="utf-8")

    shots = {}
    for name, source in (("report-weekly.png", page), ("report-weekly-no-svg.png", control)):
        _screenshot(chromium, source, artifacts / name, tmp_path / f"profile-{name}")
        width, height, rows = decode_png((artifacts / name).read_bytes())
        assert (width, height) == (WIDTH, HEIGHT)
        shots[name] = rows
    shown, bare = shots["report-weekly.png"], shots["report-weekly-no-svg.png"]
    bottom = last_painted_row(shown)
    assert 0 < bottom < HEIGHT - 200, f"the page does not fit in the {HEIGHT} px screenshot ({bottom})"

    markup = "".join(charts)
    used = [c for c in COLORS if c in markup]
    assert COLORS[0] in used and COLORS[1] in used, used  # bars and first trend line; second trend line
    lines = [c for c in used if f'<polyline fill="none" stroke="{c}"' in markup]
    assert lines, "the trend is drawn as lines"
    found, lines_seen, blocks = [], [], {}
    for color in used:
        # What the charts fill with that colour (bars, legend keys): their inside is
        # painted in exactly that colour, only their edges may be anti-aliased.
        declared = sum(float(w) * float(h) for w, h in re.findall(
            rf'<rect [^>]*width="([\d.]+)" height="([\d.]+)" fill="{color}"', markup))
        solid, solid_bare = solid_pixels(shown, color), solid_pixels(bare, color)
        total, total_bare = count_pixels(shown, color), count_pixels(bare, color)
        blocks[color] = solid
        found.append(f"{color}: {declared:.0f} px declared in <rect>s; painted in blocks {solid} px "
                     f"(without the <svg>s {solid_bare}), in all {total} px (without {total_bare})")
        detail = "\n".join(found) + f"\nscreenshots in {artifacts}"
        assert solid >= 0.9 * declared, detail
        assert solid_bare <= 0.02 * solid, detail  # the control: (almost) none without the charts
        if color in lines and total_bare == 0:
            # A trend line in a colour nothing else on the page uses: its polyline and
            # dots, beyond the legend key. (The stylesheet's headings use COLORS[0], and
            # a later series may paint over an earlier one where the values are equal.)
            assert total - solid >= 100, detail
            lines_seen.append(color)
    assert lines_seen, "no trend line painted\n" + "\n".join(found)
    # The known week, whatever the markup says: four bar charts with 11 bars (7 of
    # them full length), well over 20 000 px of bar colour.
    assert blocks[COLORS[0]] > 20_000, "\n".join(found)
