#!/usr/bin/env python3
"""Writes tests/fixtures/company_career_framework.pdf: the walkthrough's career
framework as a real PDF (Helvetica text, a /Title), from
tests/fixtures/career_framework.md. Standard library only.

Usage: scripts/make_career_framework_pdf.py [out.pdf]
"""
import os
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "tests/fixtures/career_framework.md")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/fixtures/company_career_framework.pdf")
TITLE = "Engineering Career Framework 2025"


def escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def lines_of(markdown):
    """(font, size, text) lines; blank entries are paragraph gaps."""
    out = []
    for block in markdown.strip().split("\n\n"):
        block = block.strip()
        if block.startswith("#"):
            level = len(block) - len(block.lstrip("#"))
            out.append(("F2", 18 if level == 1 else 13, block.lstrip("# ").strip()))
        else:
            for line in textwrap.wrap(" ".join(block.split()), 90):
                out.append(("F1", 10, line))
        out.append(None)
    return out


def pages_of(lines, per_page=22):
    pages, page = [], []
    for line in lines:
        page.append(line)
        if len([l for l in page if l]) >= per_page and line is None:
            pages.append(page)
            page = []
    if page:
        pages.append(page)
    return pages


def content(page):
    ops, y = [], 760
    for line in page:
        if line is None:
            y -= 10
            continue
        font, size, text = line
        ops.append("BT /%s %d Tf 72 %d Td (%s) Tj ET" % (font, size, y, escape(text)))
        y -= size + 6
    return "\n".join(ops).encode("latin-1")


def main():
    pages = pages_of(lines_of(open(SOURCE, encoding="utf-8").read()))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        None,  # page tree, filled below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        ("<< /Title (%s) /Producer (petraf make_career_framework_pdf.py) >>" % escape(TITLE)).encode("latin-1"),
    ]
    kids = []
    for page in pages:
        stream = content(page)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        contents = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % contents
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    with open(OUT, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
