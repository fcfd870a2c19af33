"""Builds the documents of the Proactive DLP tests in every format DLP reads, each twice:
`positives.<ext>` holds labelled sensitive values in the places a format hides text (runs,
tables, headers, footers, comments, tracked deletions, notes, properties, attachments), and
`negatives.<ext>` holds hard negatives only (hashes, UUIDs, phone numbers, order ids, ISBNs,
dates, version strings, test card numbers).

docx, xlsx and pptx are written with python-docx, openpyxl and python-pptx; e-mail with
Python's email package; pdf, odt and rtf (from the docx), ods and xls (from the xlsx) and odp
(from the pptx) by headless LibreOffice, as users' files are.

Usage: dlp_documents.py OUTDIR [FORMAT...]  (FORMAT: docx, xlsx, pptx or eml builds only those,
without LibreOffice's copies)
"""

import copy
import os
import subprocess
import sys
import tempfile
from email.message import EmailMessage

import docx
import openpyxl
import pptx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from openpyxl.comments import Comment

CARD = "Ada paid with her Visa card {} last week."
VISA_PARTS = ("4556 7375", " 8689 9855")
SSN_LINE = "Employee Grace Hopper, SSN 536-22-8726, starts Monday."
IBAN_LINE = "Wire the refund to IBAN GB82 WEST 1234 5698 7654 32 today."
COMMENT = "Her social security number is 672-34-1942."
DELETED = "Mastercard 5167 3492 1860 4477 on file"
FOOTER = "Discover card 6011 4321 8876 5308 for travel"
KEYWORDS = "ssn 219-45-6789"

NEGATIVES = [
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "md5 d41d8cd98f00b204e9800998ecf8427e, build 20240315123456",
    "request 550e8400-e29b-41d4-a716-446655440000 from 123e4567-e89b-12d3-a456-426614174000",
    "call +1 415-555-0132, fax (212) 555-0199, mobile 415 555 0175",
    "Order #4556737586899855 and order number 5425233430109903 shipped",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2",
    "on 2024-03-15 at 10:30:00, due 15/04/2024",
    "version 10.2.1.15 of the agent, see section 1.2.3.4",
    "Stripe test card 4242 4242 4242 4242 and 4111 1111 1111 1111 in the sandbox",
    "invoice 078-05-1120 sample, tracking 1Z999AA10123456784",
]


def word(out):
    document = docx.Document()
    document.add_heading("Quarterly customer review", level=1)
    paragraph = document.add_paragraph("Ada paid with her Visa card ")
    # The number is split across two runs, as Word does after an edit.
    first = paragraph.add_run(VISA_PARTS[0])
    paragraph.add_run(VISA_PARTS[1])
    paragraph.add_run(" last week.")
    document.add_comment(first, text=COMMENT, author="Reviewer")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Employee"
    table.cell(0, 1).text = "Notes"
    table.cell(1, 0).text = "Grace Hopper"
    table.cell(1, 1).text = "SSN 536-22-8726"
    deleted = document.add_paragraph()
    deleted._p.append(
        parse_xml(
            f'<w:del {nsdecls("w")} w:id="90" w:author="Editor" w:date="2024-01-01T00:00:00Z">'
            f"<w:r><w:delText>{DELETED}</w:delText></w:r></w:del>"
        )
    )
    deleted.add_run(" (card details removed)")
    section = document.sections[0]
    section.header.paragraphs[0].text = IBAN_LINE
    section.footer.paragraphs[0].text = FOOTER
    document.core_properties.keywords = KEYWORDS
    document.core_properties.title = "Customer review"
    document.save(os.path.join(out, "positives.docx"))

    negatives = docx.Document()
    for line in NEGATIVES:
        negatives.add_paragraph(line)
    table = negatives.add_table(rows=len(NEGATIVES), cols=1)
    for row, line in enumerate(NEGATIVES):
        table.cell(row, 0).text = line
    negatives.sections[0].header.paragraphs[0].text = NEGATIVES[4]
    negatives.save(os.path.join(out, "negatives.docx"))


def excel(out):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Customers"
    sheet.append(["Name", "Card number", "SSN", "Note"])
    sheet.append(["Ada Lovelace", "4556 7375 8689 9855", "536-22-8726", "paid"])
    sheet.append(["Alan Turing", "", "", IBAN_LINE])
    sheet["D2"].comment = Comment(COMMENT, "Reviewer")
    sheet.oddFooter.center.text = FOOTER
    other = book.create_sheet("Travel")
    other.append(["Traveller", "Corporate card"])
    other.append(["Grace Hopper", "5167 3492 1860 4477"])
    book.properties.keywords = KEYWORDS
    book.save(os.path.join(out, "positives.xlsx"))

    negatives = openpyxl.Workbook()
    sheet = negatives.active
    sheet.title = "Log"
    sheet.append(["Kind", "Value"])
    for line in NEGATIVES:
        kind, value = line.split(" ", 1)
        sheet.append([kind, value])
    negatives.save(os.path.join(out, "negatives.xlsx"))


def powerpoint(out):
    deck = pptx.Presentation()
    layout = deck.slide_layouts[1]
    slide = deck.slides.add_slide(layout)
    slide.shapes.title.text = "Payments"
    body = slide.placeholders[1].text_frame
    body.text = CARD.format("4556 7375 8689 9855")
    slide.notes_slide.notes_text_frame.text = SSN_LINE
    second = deck.slides.add_slide(layout)
    second.shapes.title.text = "Refunds"
    second.placeholders[1].text_frame.text = IBAN_LINE
    deck.core_properties.keywords = KEYWORDS
    deck.save(os.path.join(out, "positives.pptx"))

    negatives = pptx.Presentation()
    slide = negatives.slides.add_slide(negatives.slide_layouts[1])
    slide.shapes.title.text = "Build log"
    frame = slide.placeholders[1].text_frame
    frame.text = NEGATIVES[0]
    for line in NEGATIVES[1:]:
        frame.add_paragraph().text = line
    negatives.save(os.path.join(out, "negatives.pptx"))


def mail(out):
    message = EmailMessage()
    message["From"] = "Ada Lovelace <ada@example.com>"
    message["To"] = "Payments <payments@example.com>"
    message["Subject"] = "Refund for IBAN GB82 WEST 1234 5698 7654 32"
    # Non-ASCII text makes the body base64 or quoted-printable, as mail clients send it.
    message.set_content(f"Grüße,\n\n{CARD.format('4556 7375 8689 9855')}\n", cte="base64")
    message.add_alternative(
        f"<html><body><p>Gr&uuml;&szlig;e,</p><p>{CARD.format('4556 7375 8689 9855')}</p>"
        "</body></html>",
        subtype="html",
        cte="quoted-printable",
    )
    message.add_attachment(
        f"{SSN_LINE}\n".encode(), maintype="text", subtype="plain", filename="staff.txt"
    )
    message.add_attachment(
        b"\x89PNG\r\n\x1a\n" + bytes(64), maintype="image", subtype="png", filename="logo.png"
    )
    with open(os.path.join(out, "positives.eml"), "wb") as file:
        file.write(bytes(message))

    negatives = EmailMessage()
    negatives["From"] = "build@example.com"
    negatives["To"] = "team@example.com"
    negatives["Subject"] = "Nightly build 10.2.1.15"
    negatives.set_content("\n".join(NEGATIVES) + "\n", cte="base64")
    with open(os.path.join(out, "negatives.eml"), "wb") as file:
        file.write(bytes(negatives))


def convert(out, sources, target):
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                "soffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--norestore",
                "--convert-to",
                target,
                "--outdir",
                out,
                *[os.path.join(out, source) for source in sources],
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
        )


def main():
    out = sys.argv[1]
    only = sys.argv[2:]
    if only:
        builders = {"docx": word, "xlsx": excel, "pptx": powerpoint, "eml": mail}
        for name in only:
            builders[name](out)
        return
    word(out)
    excel(out)
    powerpoint(out)
    mail(out)
    pair = lambda ext: [f"positives.{ext}", f"negatives.{ext}"]
    for target in ["pdf", "odt", "rtf"]:
        convert(out, pair("docx"), target)
    for target in ["ods", "xls"]:
        convert(out, pair("xlsx"), target)
    convert(out, pair("pptx"), "odp")
    for ext in ["docx", "xlsx", "pptx", "eml", "pdf", "odt", "rtf", "ods", "xls", "odp"]:
        for name in pair(ext):
            if not os.path.exists(os.path.join(out, name)):
                sys.exit(f"{name} was not written")


if __name__ == "__main__":
    main()
