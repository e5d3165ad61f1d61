"""Make the PDF fixtures of `pdf-pages` and poppler's reference renderings of them.

Run from the repository root, in a virtual environment with the pinned versions:

    python3 -m venv /tmp/pdf-venv
    /tmp/pdf-venv/bin/pip install fpdf2==2.8.9 pillow==13.0.0 fonttools==4.68.0 defusedxml==0.7.1
    apt-get install -y poppler-utils fonts-liberation   # pdftoppm; Liberation Sans for Helvetica
    /tmp/pdf-venv/bin/python crates/pdf/tests/make_fixtures.py

It writes `crates/pdf/tests/fixtures/*.pdf` and, for every page of the PDFs that render,
`<name>-p<N>.png`: pdftoppm (poppler 22.12 on Debian 12 when they were committed) at
REFERENCE_LONGEST_EDGE px on the page's longer side. The Rust tests read these files and
never run this script or poppler. Nothing here depends on the clock or on chance, so
running it again rewrites the same bytes (poppler's PNGs depend on its version).

The pages are small and plain on purpose: each PDF stays a few KiB, and each one
exercises one thing a user drops on the OCR page (a typed document with a table, a scan, a
multi-page file, a rotated page, a password, a file cut short, a document without pages).
"""

import datetime
import io
import math
import pathlib
import shutil
import subprocess

from fpdf import FPDF
from fpdf.enums import EncryptionMethod
from PIL import Image, ImageDraw, ImageFont

ROOT = pathlib.Path(__file__).resolve().parents[3]
OUT = ROOT / "crates/pdf/tests/fixtures"
FONT = ROOT / "crates/catalog/fonts/DejaVuSans.ttf"
# The Rust test renders at the same size; small enough that each PNG is a few KiB.
REFERENCE_LONGEST_EDGE = 300
FIXED_DATE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def new_pdf() -> FPDF:
    pdf = FPDF(unit="pt")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_auto_page_break(False)
    pdf.set_compression(True)
    return pdf


def text_table() -> bytes:
    """A typed A4 page: a heading, a paragraph and a ruled table, in an embedded font
    (a subset of DejaVu Sans), so that poppler and hayro draw the same glyphs."""
    pdf = new_pdf()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_page(format="A4")
    pdf.set_font("DejaVu", size=28)
    pdf.text(60, 90, "Invoice 2024-017")
    pdf.set_font("DejaVu", size=14)
    pdf.text(60, 130, "Seller: Example Tools Ltd, 12 Harbour Road")
    pdf.text(60, 152, "Due within 30 days of receipt.")
    rows = [("Item", "Qty", "Price"), ("Paper", "4", "12.00"), ("Ink", "2", "31.50"),
            ("Total", "", "55.50")]
    left, top, widths, height = 60, 200, (240, 100, 135), 36
    pdf.set_line_width(1.5)
    for r, row in enumerate(rows):
        x = left
        for w, cell in zip(widths, row):
            pdf.rect(x, top + r * height, w, height)
            pdf.text(x + 10, top + r * height + 24, cell)
            x += w
    pdf.set_fill_color(30, 60, 160)
    pdf.rect(60, 400, 475, 12, style="F")
    return bytes(pdf.output())


def scan_picture() -> bytes:
    """A grey 'scanned' sheet as a JPEG, the way scanners embed pages (DCTDecode)."""
    img = Image.new("L", (240, 320), 236)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), 22)
    for i, line in enumerate(["RECEIPT", "Coffee   3.20", "Bread    2.10", "TOTAL    5.30"]):
        draw.text((20, 30 + i * 45), line, fill=20, font=font)
    draw.rectangle((20, 230, 220, 236), fill=40)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=50)
    return buf.getvalue()


def scanned() -> bytes:
    """One page that is only a picture: what a scanner or a phone app writes."""
    pdf = new_pdf()
    pdf.add_page(format=(300, 400))
    pdf.image(io.BytesIO(scan_picture()), x=0, y=0, w=300, h=400)
    return bytes(pdf.output())


def three_pages() -> bytes:
    """Three pages of different sizes and content, text in the standard Helvetica font
    (not embedded: hayro draws its bundled Foxit Sans, poppler Liberation Sans)."""
    pdf = new_pdf()
    pdf.add_page(format="A4")
    pdf.set_font("Helvetica", size=60)
    pdf.text(80, 200, "Page one")
    pdf.set_line_width(8)
    pdf.circle(300, 500, 120)
    pdf.add_page(format="A5", orientation="L")
    pdf.set_fill_color(200, 30, 30)
    pdf.rect(40, 40, 250, 150, style="F")
    pdf.set_fill_color(30, 160, 60)
    pdf.rect(300, 200, 250, 150, style="F")
    pdf.set_font("Helvetica", "B", size=40)
    pdf.text(60, 300, "Two")
    pdf.add_page(format="Letter")
    pdf.set_line_width(6)
    for k in range(6):
        pdf.line(60, 100 + 100 * k, 550, 150 + 100 * k)
    pdf.set_font("Helvetica", size=48)
    pdf.text(200, 90, "Three")
    return bytes(pdf.output())


def encrypted(user_password: str | None) -> bytes:
    """The typed page, encrypted with RC4 (fpdf2 needs no other package for it). With a
    user password nobody can open it without typing it; with only an owner password
    (permissions) every reader opens it, so must we."""
    pdf = new_pdf()
    pdf.add_page(format="A5")
    pdf.set_font("Helvetica", size=30)
    pdf.text(40, 100, "Confidential")
    pdf.set_encryption(owner_password="owner-secret", user_password=user_password,
                       encryption_method=EncryptionMethod.RC4)
    return bytes(pdf.output())


def hand_written(objects: list[bytes]) -> bytes:
    """A PDF from numbered object bodies (1 is the catalog), with a correct xref table:
    for what fpdf2 cannot write (no pages, a /Rotate key)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def no_pages() -> bytes:
    """A well-formed document whose page tree is empty."""
    return hand_written([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ])


def rotated() -> bytes:
    """A landscape page stored portrait with /Rotate 90, as scanners and `pdftk rotate`
    write it: the picture must come out turned, wider than tall."""
    content = (b"1 0 0 rg 20 20 160 60 re f "          # red bar at the bottom left
               b"0 0 1 rg 100 300 m 180 380 l 20 380 l f "  # blue triangle at the top
               b"0 g 4 w 20 200 m 180 200 l S")       # black rule across the middle
    return hand_written([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 400] /Rotate 90 /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ])


def page_count(path: pathlib.Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return next(int(line.split()[1]) for line in info.stdout.splitlines()
                if line.startswith("Pages:"))


def page_points(path: pathlib.Path, page: int) -> tuple[float, float, bool]:
    """The page's size as stored, from pdfinfo, and whether /Rotate turns it sideways."""
    info = subprocess.run(["pdfinfo", "-f", str(page), "-l", str(page), str(path)],
                          capture_output=True, text=True, check=True).stdout
    line = next(line for line in info.splitlines() if line.startswith(f"Page {page:>4} size:"))
    width, height = float(line.split()[3]), float(line.split()[5])
    rot = next((int(line.split()[-1]) for line in info.splitlines()
                if line.startswith(f"Page {page:>4} rot:")), 0)
    return width, height, rot % 180 == 90


def pixel_size(width: float, height: float) -> tuple[int, int]:
    """The size `Pdf::render` gives: the longer side exactly REFERENCE_LONGEST_EDGE, the
    other rounded to the nearest pixel (at least 1)."""
    scale = REFERENCE_LONGEST_EDGE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_reference(path: pathlib.Path) -> None:
    for page in range(1, page_count(path) + 1):
        width, height, sideways = page_points(path, page)
        w, h = pixel_size(height, width) if sideways else pixel_size(width, height)
        # -scale-to-x/-y (the stored page's axes, before /Rotate) set the scale; -W/-H
        # (the picture's axes) crop to exactly our size, because poppler rounds a
        # fractional edge up where we round to nearest.
        x, y = (h, w) if sideways else (w, h)
        stem = OUT / f"{path.stem}-p{page}"
        subprocess.run(["pdftoppm", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                        "-scale-to-x", str(x), "-scale-to-y", str(y), "-x", "0", "-y", "0",
                        "-W", str(w), "-H", str(h), str(path), str(stem)], check=True)
        shrink_png(stem.with_suffix(".png"))


def shrink_png(path: pathlib.Path) -> None:
    """Store a picture whose pixels are all grey as a grey PNG (lossless: R = G = B), a
    third of the bytes for the scan; pdftoppm 22.12 writes RGB even when asked -gray."""
    img = Image.open(path).convert("RGB")
    r, g, b = img.split()
    if r.tobytes() == g.tobytes() == b.tobytes():
        r.save(path, optimize=True)
    else:
        img.save(path, optimize=True)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    typed = text_table()
    files = {
        "text_table.pdf": typed,
        "scanned.pdf": scanned(),
        "three_pages.pdf": three_pages(),
        "rotated.pdf": rotated(),
        "encrypted.pdf": encrypted(user_password="secret"),
        "owner_password.pdf": encrypted(user_password=None),
        "no_pages.pdf": no_pages(),
        # A download that stopped halfway: the xref table and trailer are gone.
        "truncated.pdf": typed[: len(typed) // 2],
    }
    for name, data in files.items():
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")
    if shutil.which("pdftoppm") is None:
        raise SystemExit("pdftoppm not found: apt-get install -y poppler-utils fonts-liberation")
    for name in ["text_table.pdf", "scanned.pdf", "three_pages.pdf", "rotated.pdf",
                 "owner_password.pdf"]:
        render_reference(OUT / name)
    for png in sorted(OUT.glob("*.png")):
        print(f"{png.name}: {png.stat().st_size} bytes")


if __name__ == "__main__":
    main()
