"""Writes an LHA archive (level-0 headers, method -lh0-: stored) of the given files.

    python3 lzh_stored.py OUT FILE...

No free program in Debian writes LHA archives (lhasa only reads them); the tests check what
this writes with lhasa's `lha t` before using it.
"""

import struct
import sys


def crc16(data):
    """CRC-16/ARC, as LHA stores it."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


archive = bytearray()
for name in sys.argv[2:]:
    with open(name, "rb") as source:
        data = source.read()
    encoded = name.encode()
    # Method, sizes, DOS time, attribute, header level, name, CRC of the data.
    header = (
        b"-lh0-"
        + struct.pack("<IIIBB", len(data), len(data), 0x5A8C6000, 0x20, 0)
        + bytes([len(encoded)])
        + encoded
        + struct.pack("<H", crc16(data))
    )
    archive += bytes([len(header), sum(header) & 0xFF]) + header + data
archive += b"\0"
with open(sys.argv[1], "wb") as out:
    out.write(archive)
