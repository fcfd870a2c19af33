"""Writes a gzip file that decompresses to itself (a quine), for the bomb tests.

    python3 gzip_quine.py OUT

Deflate is a tiny language of two instructions: a stored block prints the bytes that follow
it, and a back-reference repeats bytes already printed. Russ Cox showed ("Zip Files All The
Way Down", 2010) that a program in it can print itself between a given prefix and suffix, if
every instruction has the same length. Here each is 5 bytes: a stored block's header (L n:
print the next n five-byte units), or a fixed-Huffman block that repeats the last 4 units (two
copies of 10 bytes) or the last 13 units (one copy of 65 bytes and an empty block). The prefix
is the gzip header (60 bytes with its extra field), the suffix the trailer and an empty second
member (60 bytes). The trailer's CRC-32 covers the file itself; CRC-32 is affine over GF(2),
so the CRC that is its own checksum is solved for, not searched. The result is checked with
Python's gzip module before it is written.
"""

import gzip
import struct
import sys
import zlib


class Bits:
    def __init__(self):
        self.bits = []

    def field(self, value, count):
        """Header fields and extra bits: least significant bit first."""
        self.bits += [(value >> i) & 1 for i in range(count)]

    def code(self, value, count):
        """Huffman codes: most significant bit first."""
        self.bits += [(value >> i) & 1 for i in reversed(range(count))]

    def to_bytes(self):
        assert len(self.bits) % 8 == 0
        return bytes(
            sum(bit << j for j, bit in enumerate(self.bits[i : i + 8]))
            for i in range(0, len(self.bits), 8)
        )


def literal(units):
    """Print the next `units` units: a stored block's header."""
    size = 5 * units
    return struct.pack("<BHH", 0, size, size ^ 0xFFFF)


def fixed_block(bits, final):
    bits.field(1 if final else 0, 1)
    bits.field(1, 2)


def repeat_4():
    """Repeat the last 4 units: two copies of 10 bytes from 20 back."""
    bits = Bits()
    fixed_block(bits, False)
    for _ in range(2):
        bits.code(264 - 256, 7)  # length 10
        bits.code(8, 5)  # distance 17-24
        bits.field(20 - 17, 3)
    bits.code(0, 7)  # end of block
    return bits.to_bytes()


def repeat_13(final):
    """Repeat the last 13 units: a copy of 65 bytes from 65 back, then an empty block."""
    bits = Bits()
    fixed_block(bits, False)
    bits.code(276 - 256, 7)  # length 59-66
    bits.field(65 - 59, 3)
    bits.code(12, 5)  # distance 65-96
    bits.field(0, 5)
    bits.code(0, 7)
    fixed_block(bits, final)
    bits.code(0, 7)
    return bits.to_bytes()


def member_header(extra):
    header = bytes([0x1F, 0x8B, 8, 4]) + struct.pack("<I", 0) + bytes([0, 0xFF])
    subfield = b"PQ" + struct.pack("<H", len(extra)) + extra
    return header + struct.pack("<H", len(subfield)) + subfield


PREFIX = member_header(b"palisade quine bomb test data, not a virus..")
EMPTY_MEMBER = (
    member_header(b"empty member, padding..")
    + bytes([1, 0, 0, 0xFF, 0xFF])
    + struct.pack("<II", 0, 0)
)


def program(suffix):
    """The deflate stream that prints PREFIX, itself and `suffix` (12 units each side)."""
    p_repeat, s_repeat, repeat4 = repeat_13(False), repeat_13(True), repeat_4()
    L = literal
    return b"".join(
        [
            L(13), PREFIX, L(13), p_repeat,
            L(1), p_repeat, L(1), L(1),
            L(4), p_repeat, L(1), L(1), L(4), repeat4,
            L(4), repeat4, L(4), repeat4, L(4), repeat4,
            L(4), repeat4, L(0), L(0), L(13), repeat4,
            L(0), L(0),
            L(13), s_repeat, suffix, s_repeat,
        ]
    )


def build(crc):
    size = len(PREFIX) + len(program(bytes(60))) + 60
    suffix = struct.pack("<II", crc, size) + EMPTY_MEMBER
    assert len(PREFIX) == 60 and len(suffix) == 60
    return PREFIX + program(suffix) + suffix


def self_checksum():
    """The c with crc32(build(c)) == c: solve (A + I) c = b over GF(2)."""
    base = zlib.crc32(build(0))
    columns = [zlib.crc32(build(1 << i)) ^ base for i in range(32)]
    rows = []
    for bit in range(32):
        row = sum((((columns[i] >> bit) & 1) ^ (i == bit)) << i for i in range(32))
        rows.append([row, (base >> bit) & 1])
    pivots, rank = [], 0
    for col in range(32):
        pivot = next((i for i in range(rank, 32) if (rows[i][0] >> col) & 1), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(32):
            if i != rank and (rows[i][0] >> col) & 1:
                rows[i][0] ^= rows[rank][0]
                rows[i][1] ^= rows[rank][1]
        pivots.append(col)
        rank += 1
    assert not any(rows[i][1] for i in range(rank, 32)), "no self-checksum"
    return sum(rows[i][1] << col for i, col in enumerate(pivots))


data = build(self_checksum())
assert gzip.decompress(data) == data, "not a quine"
with open(sys.argv[1], "wb") as out:
    out.write(data)
