"""Judges a redacted copy with tools other than Palisade's own readers.

usage: dlp_judge.py COPY KIND KEEP VALUE...

KIND is txt, pdf, docx, xlsx or pptx. The copy passes when none of the VALUEs (compared
without white space) can be found in what the independent extractors get out of it, the
words KEEP (text that is not sensitive, compared without white space) still can, and the
copy still opens: `qpdf --check` for a PDF, a headless LibreOffice conversion to PDF for an
Office document.

The extractors: pdftotext, and `strings` over `qpdf --qdf` (every stream uncompressed) for a
PDF; python-docx, openpyxl and python-pptx for Office documents, plus `strings` over every
part of the package uncompressed (comments, tracked deletions, properties); `strings` for
plain text. Prints what it checked; exits 1 with the reason when the copy fails.
"""

import os
import subprocess
import sys
import tempfile
import zipfile


def strings(data):
    """What `strings` prints for these bytes (runs of 4 or more printable characters)."""
    run = subprocess.run(["strings", "-a", "-n", "4"], input=data, capture_output=True, check=True)
    return run.stdout.decode("latin-1")


def pdf_texts(path, work):
    texts = [subprocess.run(["pdftotext", "-layout", path, "-"], capture_output=True, check=True).stdout.decode()]
    qdf = os.path.join(work, "qdf.pdf")
    subprocess.run(["qpdf", "--qdf", "--object-streams=disable", path, qdf], check=True)
    with open(qdf, "rb") as file:
        texts.append(strings(file.read()))
    return texts


def package_strings(path):
    texts = []
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            texts.append(strings(package.read(name)))
    return texts


def docx_texts(path):
    import docx

    document = docx.Document(path)
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            texts.extend(cell.text for cell in row.cells)
    for section in document.sections:
        for part in (section.header, section.footer):
            texts.extend(p.text for p in part.paragraphs)
    props = document.core_properties
    texts.extend(str(getattr(props, name) or "") for name in ("title", "subject", "author", "comments", "keywords"))
    return texts


def xlsx_texts(path):
    import openpyxl

    book = openpyxl.load_workbook(path)
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None:
                    texts.append(str(cell.value))
                if cell.comment is not None:
                    texts.append(cell.comment.text)
    return texts


def pptx_texts(path):
    import pptx

    deck = pptx.Presentation(path)
    texts = []
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                texts.append(shape.text_frame.text)
        if slide.has_notes_slide:
            texts.append(slide.notes_slide.notes_text_frame.text)
    return texts


def opens(path, kind, work):
    if kind == "pdf":
        subprocess.run(["qpdf", "--check", path], check=True, capture_output=True)
        return "qpdf --check"
    if kind in ("docx", "xlsx", "pptx"):
        profile = os.path.join(work, "profile")
        subprocess.run(
            ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
             "--convert-to", "pdf", "--outdir", work, path],
            check=True, capture_output=True, timeout=300,
        )
        converted = os.path.join(work, os.path.splitext(os.path.basename(path))[0] + ".pdf")
        if not os.path.exists(converted):
            raise SystemExit(f"LibreOffice did not convert {path}")
        return "LibreOffice conversion"
    return "nothing to open"


def squeeze(text):
    return "".join(text.split())


def main():
    path, kind, keep, values = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    with tempfile.TemporaryDirectory() as work:
        if kind == "pdf":
            texts = pdf_texts(path, work)
        elif kind == "txt":
            with open(path, "rb") as file:
                texts = [strings(file.read())]
        else:
            reader = {"docx": docx_texts, "xlsx": xlsx_texts, "pptx": pptx_texts}[kind]
            texts = reader(path) + package_strings(path)
        seen = squeeze("\n".join(texts))
        for value in values:
            if squeeze(value) in seen:
                raise SystemExit(f"{path}: {value!r} can still be read from the copy")
        if squeeze(keep) not in seen:
            raise SystemExit(f"{path}: {keep!r}, which is not sensitive, is gone from the copy")
        how = opens(path, kind, work)
    print(f"{path}: none of {len(values)} values found; {keep!r} kept; checked by {how}")


if __name__ == "__main__":
    main()
