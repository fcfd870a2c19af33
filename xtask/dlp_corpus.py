"""The labelled corpus of `cargo xtask eval-dlp`: sentences with card numbers, social security
numbers, IBANs and IPv4 addresses written as people write them (with and without keywords,
bare and grouped), and a larger set of hard negatives (phone numbers, hashes, UUIDs, order and
tracking numbers, ISBNs, dates, version strings, published test card numbers), generated with
Faker at a fixed seed and spread over text, CSV, Word, Excel, e-mail and PDF files.

Writes OUTDIR/<name>.<ext> and OUTDIR/labels.json: {file: [[kind, value], ...]}.

Usage: dlp_corpus.py OUTDIR [--seed N] [--per-kind N]
"""

import argparse
import csv
import json
import os
import random
import subprocess
import tempfile
from email.message import EmailMessage

import docx
import openpyxl
from faker import Faker

TEST_CARDS = [
    "4111 1111 1111 1111",
    "4242 4242 4242 4242",
    "4012 8888 8888 1881",
    "5555 5555 5555 4444",
    "5105 1051 0510 5100",
    "3782 822463 10005",
    "6011 1111 1111 1117",
    "3056 9309 0259 04",
    "4000 0566 5566 5556",
]

CARD_PROVIDERS = ["visa16", "visa16", "visa16", "mastercard", "mastercard", "amex", "discover",
                  "diners", "jcb16", "maestro", "visa19", "visa13"]


def luhn_digit(digits):
    total = 0
    for i, d in enumerate(reversed([int(c) for c in digits])):
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def group_card(number, rng):
    style = rng.random()
    if style < 0.4:
        return number
    sep = " " if style < 0.9 else "-"
    if number.startswith(("34", "37")) and len(number) == 15:
        parts = [number[:4], number[4:10], number[10:]]
    elif len(number) == 13:
        parts = [number[:4], number[4:7], number[7:10], number[10:]]
    elif len(number) == 14:
        parts = [number[:4], number[4:10], number[10:]]
    else:
        parts = [number[i:i + 4] for i in range(0, len(number), 4)]
    return sep.join(parts)


def group_ssn(ssn, rng):
    style = rng.random()
    digits = ssn.replace("-", "")
    if style < 0.7:
        return ssn
    if style < 0.85:
        return f"{digits[:3]} {digits[3:5]} {digits[5:]}"
    return digits


def group_iban(iban, rng):
    if rng.random() < 0.5:
        return iban
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


def positives(fake, locales, rng, per_kind):
    """(sentence, kind, value) for each kind."""
    out = []
    card_templates = [
        "Please charge my {brand} card {v} for the renewal.",
        "Card number: {v}, expiry {exp}.",
        "{name} paid with {v} yesterday.",
        "Payment details - {v} - CVV {cvv}",
        "Use the corporate card {v} for travel to {city}.",
        "{name}, {v}, {city}",
        "Credit card {v} was declined at {company}.",
        "Refund to the debit card ending in the full number {v}.",
    ]
    for _ in range(per_kind):
        provider = rng.choice(CARD_PROVIDERS)
        number = fake.credit_card_number(card_type=provider)
        value = group_card(number, rng)
        sentence = rng.choice(card_templates).format(
            v=value, brand=fake.credit_card_provider(card_type=provider).split(" ")[0],
            exp=fake.credit_card_expire(), cvv=fake.credit_card_security_code(),
            name=fake.name(), city=fake.city(), company=fake.company())
        out.append((sentence, "ccn", value))
    ssn_templates = [
        "SSN: {v}",
        "Her social security number is {v}.",
        "{name} (SSN {v}) joined on {date}.",
        "Employee {name}, social security no. {v}, {city}",
        "Taxpayer id (SSN) {v} for {name}",
        "{name} {v} {city}",
        "{name}'s number is {v}.",
    ]
    for _ in range(per_kind):
        value = group_ssn(fake.ssn(), rng)
        sentence = rng.choice(ssn_templates).format(
            v=value, name=fake.name(), date=fake.date(), city=fake.city())
        out.append((sentence, "ssn", value))
    iban_templates = [
        "IBAN {v}",
        "Please wire the deposit to {v} by Friday.",
        "Account {v} (BIC {bic}) at {company}",
        "{name} asked us to pay into IBAN {v}.",
        "Bank details: {v}",
    ]
    for _ in range(per_kind):
        locale = rng.choice(locales)
        value = group_iban(locale.iban(), rng)
        sentence = rng.choice(iban_templates).format(
            v=value, bic=fake.swift(), company=fake.company(), name=fake.name())
        out.append((sentence, "iban", value))
    ip_templates = [
        "Connection from {v} refused by the firewall.",
        "server {v} answered in {ms} ms",
        "{v} - - [{date}] \"GET /index.html HTTP/1.1\" 200",
        "The host at {v} is down.",
        "Allow {v} on port 443.",
    ]
    for _ in range(per_kind):
        value = fake.ipv4_public()
        sentence = rng.choice(ip_templates).format(
            v=value, ms=rng.randint(1, 900), date=fake.date_time().isoformat())
        out.append((sentence, "ipv4", value))
    return out


def negatives(fake, rng, count):
    makers = [
        lambda: f"Call {fake.phone_number()} before noon.",
        lambda: f"phone {fake.numerify('### ### ####')}, fax {fake.numerify('(###) ###-####')}",
        lambda: f"request {fake.uuid4()} failed",
        lambda: f"md5 {fake.md5()} sha1 {fake.sha1()}",
        lambda: f"sha256 {fake.sha256()}",
        lambda: f"Order #{fake.numerify('################')} shipped to {fake.city()}.",
        lambda: f"order number {fake.numerify('4###############')} confirmed",
        lambda: f"invoice {fake.numerify('###-##-####')} is due",
        lambda: f"ISBN {fake.isbn13()} and ISBN {fake.isbn10()}",
        lambda: f"on {fake.date()} at {fake.time()}, due {fake.date(pattern='%d/%m/%Y')}",
        lambda: f"build {fake.date(pattern='%Y%m%d')}{fake.numerify('######')}",
        lambda: f"version {rng.randint(1, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)} of the agent",
        lambda: f"see section {rng.randint(1, 9)}.{rng.randint(1, 9)}.{rng.randint(1, 9)}.{rng.randint(1, 9)}",
        lambda: f"Stripe test card {rng.choice(TEST_CARDS)} in the sandbox",
        lambda: f"tracking 1Z{fake.bothify('???#########').upper()}{fake.numerify('#####')}",
        lambda: f"FedEx tracking {fake.numerify('############')}",
        lambda: f"USPS {fake.numerify('9400 #### #### #### #### ##')}",
        lambda: f"ZIP {fake.zipcode_plus4()}",
        lambda: f"EIN {fake.numerify('##-#######')}",
        lambda: f"account id {fake.numerify('################')} (not a card)",
        lambda: f"Reference {fake.bothify('??-########').upper()} for {fake.company()}",
        lambda: f"{fake.sentence()} {fake.numerify('#### #### ####')}",
        lambda: f"The meeting is in room {rng.randint(100, 999)}; {fake.sentence()}",
        lambda: f"timestamp {rng.randint(1_600_000_000_000, 1_800_000_000_000)}",
        lambda: f"GTIN {fake.ean13()} and EAN {fake.ean8()}",
    ]
    return [rng.choice(makers)() for _ in range(count)]


def write_documents(out, lines, rng):
    """Spreads the lines over files of about 40 lines each; returns {file: labels}."""
    labels = {}
    formats = ["txt", "txt", "csv", "docx", "xlsx", "eml", "pdf"]
    at = 0
    number = 0
    pdf_sources = []
    while at < len(lines):
        chunk = lines[at:at + 40]
        at += 40
        number += 1
        ext = rng.choice(formats)
        name = f"doc{number:05d}.{ext if ext != 'pdf' else 'docx'}"
        path = os.path.join(out, name)
        texts = [text for text, _, _ in chunk]
        if ext in ("txt",):
            with open(path, "w") as file:
                file.write("\n".join(texts) + "\n")
        elif ext == "csv":
            with open(path, "w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(["id", "note"])
                for i, text in enumerate(texts):
                    writer.writerow([i + 1, text])
        elif ext in ("docx", "pdf"):
            document = docx.Document()
            for text in texts:
                document.add_paragraph(text)
            document.save(path)
        elif ext == "xlsx":
            book = openpyxl.Workbook()
            sheet = book.active
            sheet.append(["Notes"])
            for text in texts:
                sheet.append([text])
            book.save(path)
        elif ext == "eml":
            message = EmailMessage()
            message["From"] = "ops@example.com"
            message["To"] = "team@example.com"
            message["Subject"] = "Weekly notes"
            message.set_content("\n".join(texts) + "\n", cte="base64")
            with open(path, "wb") as file:
                file.write(bytes(message))
        if ext == "pdf":
            pdf_sources.append(name)
            name = name.replace(".docx", ".pdf")
        labels[name] = [[kind, value] for _, kind, value in chunk if kind]
    if pdf_sources:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                ["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                 "--norestore", "--convert-to", "pdf", "--outdir", out,
                 *[os.path.join(out, source) for source in pdf_sources]],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        for source in pdf_sources:
            os.remove(os.path.join(out, source))
    return labels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--per-kind", type=int, default=2500)
    args = parser.parse_args()
    Faker.seed(args.seed)
    rng = random.Random(args.seed)
    fake = Faker("en_US")
    locales = []
    for name in ["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"]:
        locale = Faker(name)
        locale.seed_instance(args.seed)
        locales.append(locale)
    lines = positives(fake, locales, rng, args.per_kind)
    lines += [(text, None, None) for text in negatives(fake, rng, args.per_kind * 5)]
    rng.shuffle(lines)
    os.makedirs(args.out, exist_ok=True)
    labels = write_documents(args.out, lines, rng)
    with open(os.path.join(args.out, "labels.json"), "w") as file:
        json.dump(labels, file)


if __name__ == "__main__":
    main()
