"""EA11: the MISTY1 block cipher (RFC 2994, ISO/IEC 18033-3), 8 rounds, 128-bit key.

Neither ``cryptography`` nor the other installed libraries ship MISTY1, so it is written here.

Speed: MISTY1's FI function is S9, S7, key XOR, S9 on a 16-bit word. Everything before the key XOR
is a fixed 16-bit -> 16-bit map, and so is everything after it, so FI(x, k) = B[A[x] ^ k] with two
key-independent 65536-entry tables built once per process (~0.1 s, on first use). An FO call is
then six look-ups; a block is 24 FI calls plus the FL layers, all on 16-bit halves kept in locals.
Per-key setup is the RFC key schedule (eight FI calls) and is negligible.
"""

from __future__ import annotations

from functools import cache

from sts.exceptions import InvalidFieldError

__all__ = ["Misty1Cipher", "misty1_key_schedule"]

# RFC 2994 S-boxes, S7 as 2 hex digits per entry and S9 as 3 hex digits per entry.
_S7_HEX = (
    "1b32335a3b1017545b1a72736b2c66491f24136c372e3f4a5d0f405625511c04"
    "0b46200d7b3544422b1e41144b79156f0e550936740c6753280a7e3802076029"
    "1912652f303908685f782a4c6445753d594803577c4f623c1d215e276a704d3a"
    "016d6e6318772305267600312d7a7f61502211064716524e713e6943345c587d"
)
_S9_HEX = (
    "1c30cb15319f1e30e90fb0351810b91171eb13300902d0d30c714a03707e0eb1641931d80a311e05502c01d1a2163118"
    "14b1521d200f02b03013a0e511113818e0630e30c81f401b00109d0f81a016d1f301c14607d0d10821ea18312d0f419e"
    "1d30dd1e21281e00ec05909101112f0260dc0b018c10f1f70e716c0b60f90d815110114c1030b815412b1ae01707100c"
    "04705807f1a413412908415d19d1b21a304807c0511ca02313d1a716503b0420da1920ce0c106b09f1f112c1840fa196"
    "1e116917d03118010a0941da18613e11c0601751cf06711906506809915000800717c0b70240190de1270db0e41a9052"
    "10909019c1c10281b313516a1760df1e51880c516e1de1b10c31df0360ee1ee0f009304909a1b606908112500b05e0b4"
    "1491c717403e13b1b708e1c60ae0100951ef04e0f21fd0850fd0f60a016f08308a15609b13c1071670981d01e90031fe"
    "0bd1220890d218f01203306a1420ed17011b0e214f15813114705d1131cd0791611a517909e1b40cc02213201a0e8004"
    "1871ed1970391bf1d702718b0c609c0d014e06c0341f206e0ca0250ba1910fe01310602f1ad1721db0c010b1d60f51ec"
    "10d0761141ab07510c1e415905411f04b0c41be0f70290a400e1f007704d17a08608b0b31710bf10e10409715b160168"
    "0d70bb0661ce0fc0921c506f01604a0a11390af0f119000a1aa14317b05618d1660d41fb14d19419a0871f81230a71b8"
    "14103c1f914002a15511a1a11980d51261af06112e1571dc07218a0aa0961150ef04507b08d14505305f1780b202e020"
    "1d503f1c91e71ac0440380140b116b0ab0b505a1821c81d40181770640cf06d10019913015a0051201bb1bd0e004f0d6"
    "13f1c412a0150060ff19b0a604308805015f1e812107317e0bc0c20c91731891f50741cc1e61a819501f04100d1ba032"
    "03d1d10800a80571b91621480d910506207a0211ff1121081c00a911d1b01a60cd0f305c10205b1d91441f60ad0a503a"
    "1cb13617f0460e101e1dd0e61371fa18508c08f0401b50be0780000ac11015e1240021bc0a20ea0701fc11615c04c1c2"
)


def _unpack(text: str, width: int) -> tuple[int, ...]:
    return tuple(int(text[i : i + width], 16) for i in range(0, len(text), width))


S7 = _unpack(_S7_HEX, 2)
S9 = _unpack(_S9_HEX, 3)


def _fi_reference(x: int, key: int) -> int:
    """FI exactly as RFC 2994 writes it (used for the key schedule and to build the tables)."""
    d9 = x >> 7
    d7 = x & 0x7F
    d9 = S9[d9] ^ d7
    d7 = (S7[d7] ^ d9) & 0x7F
    d7 ^= key >> 9
    d9 ^= key & 0x1FF
    d9 = S9[d9] ^ d7
    return (d7 << 9) | d9


@cache
def _fi_tables() -> tuple[list[int], list[int]]:
    """A[x] = FI state (d7 << 9 | d9) just before the key XOR; B[y] = FI output from that state.

    The key XOR is d7 ^= KI >> 9, d9 ^= KI & 0x1FF, i.e. a plain XOR of the packed state with KI.
    Lists, not arrays: indexing a list hands back an existing int object, which is faster.
    """
    first = []
    for x in range(65536):
        d9 = S9[x >> 7] ^ (x & 0x7F)
        d7 = (S7[x & 0x7F] ^ d9) & 0x7F
        first.append((d7 << 9) | d9)
    second = []
    for y in range(65536):
        d7 = y >> 9
        second.append((d7 << 9) | (S9[y & 0x1FF] ^ d7))
    return first, second


def misty1_key_schedule(key: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(K, K'): the eight 16-bit key words and K'_i = FI(K_i, K_(i+1) mod 8)."""
    if not isinstance(key, bytes | bytearray) or len(key) != 16:
        size = len(key) if isinstance(key, bytes | bytearray) else "?"
        raise InvalidFieldError(
            "decoder_key", f"<{size} bytes>", "EA11 needs a 128-bit (16-byte) decoder key"
        )
    k = tuple(int.from_bytes(key[2 * i : 2 * i + 2], "big") for i in range(8))
    k_prime = tuple(_fi_reference(k[i], k[(i + 1) % 8]) for i in range(8))
    return k, k_prime


def _fl_keys(k: tuple[int, ...], kp: tuple[int, ...], index: int) -> tuple[int, int]:
    """(AND key, OR key) of FL layer ``index`` (0..9), per RFC 2994."""
    if index % 2 == 0:
        return k[index // 2], kp[(index // 2 + 6) % 8]
    half = (index - 1) // 2
    return kp[(half + 2) % 8], k[(half + 4) % 8]


def _fo_keys(k: tuple[int, ...], kp: tuple[int, ...], index: int) -> tuple[int, ...]:
    """(KO1, KI1, KO2, KI2, KO3, KI3, KO4) of FO round ``index`` (0..7), per RFC 2994."""
    return (
        k[index],
        kp[(index + 5) % 8],
        k[(index + 2) % 8],
        kp[(index + 1) % 8],
        k[(index + 7) % 8],
        kp[(index + 3) % 8],
        k[(index + 4) % 8],
    )


class Misty1Cipher:
    """MISTY1 (8 rounds) with one 128-bit key; ``encrypt``/``decrypt`` work on 64-bit integers
    (the block read big-endian). Immutable after construction, safe to share between threads."""

    __slots__ = ("_a", "_b", "_final", "_rounds")

    def __init__(self, key: bytes) -> None:
        k, kp = misty1_key_schedule(key)
        self._a, self._b = _fi_tables()
        # Each of the four double rounds: FL keys for D0 and D1, then the two FO rounds.
        self._rounds = tuple(
            (
                *_fl_keys(k, kp, 2 * pair),
                *_fl_keys(k, kp, 2 * pair + 1),
                *_fo_keys(k, kp, 2 * pair),
                *_fo_keys(k, kp, 2 * pair + 1),
            )
            for pair in range(4)
        )
        self._final = (*_fl_keys(k, kp, 8), *_fl_keys(k, kp, 9))

    def __repr__(self) -> str:
        return "Misty1Cipher()"

    def encrypt(self, block: int) -> int:
        a = self._a
        b = self._b
        # D0 = (x0, x1), D1 = (y0, y1): 16-bit halves, most significant first.
        x0 = block >> 48
        x1 = (block >> 32) & 0xFFFF
        y0 = (block >> 16) & 0xFFFF
        y1 = block & 0xFFFF
        for (
            la0, lb0, la1, lb1,
            ko1, ki1, ko2, ki2, ko3, ki3, ko4,
            po1, pi1, po2, pi2, po3, pi3, po4,
        ) in self._rounds:  # fmt: skip
            # FL on D0 and D1
            x1 ^= x0 & la0
            x0 ^= x1 | lb0
            y1 ^= y0 & la1
            y0 ^= y1 | lb1
            # D1 ^= FO(D0)
            t0 = b[a[x0 ^ ko1] ^ ki1] ^ x1
            t1 = b[a[x1 ^ ko2] ^ ki2] ^ t0
            t0 = b[a[t0 ^ ko3] ^ ki3] ^ t1
            y0 ^= t1 ^ ko4
            y1 ^= t0
            # D0 ^= FO(D1)
            t0 = b[a[y0 ^ po1] ^ pi1] ^ y1
            t1 = b[a[y1 ^ po2] ^ pi2] ^ t0
            t0 = b[a[t0 ^ po3] ^ pi3] ^ t1
            x0 ^= t1 ^ po4
            x1 ^= t0
        la0, lb0, la1, lb1 = self._final
        x1 ^= x0 & la0
        x0 ^= x1 | lb0
        y1 ^= y0 & la1
        y0 ^= y1 | lb1
        # The output is D1 || D0.
        return (y0 << 48) | (y1 << 32) | (x0 << 16) | x1

    def decrypt(self, block: int) -> int:
        a = self._a
        b = self._b
        y0 = block >> 48
        y1 = (block >> 32) & 0xFFFF
        x0 = (block >> 16) & 0xFFFF
        x1 = block & 0xFFFF
        la0, lb0, la1, lb1 = self._final
        x0 ^= x1 | lb0
        x1 ^= x0 & la0
        y0 ^= y1 | lb1
        y1 ^= y0 & la1
        for (
            la0, lb0, la1, lb1,
            ko1, ki1, ko2, ki2, ko3, ki3, ko4,
            po1, pi1, po2, pi2, po3, pi3, po4,
        ) in reversed(self._rounds):  # fmt: skip
            # D0 ^= FO(D1)
            t0 = b[a[y0 ^ po1] ^ pi1] ^ y1
            t1 = b[a[y1 ^ po2] ^ pi2] ^ t0
            t0 = b[a[t0 ^ po3] ^ pi3] ^ t1
            x0 ^= t1 ^ po4
            x1 ^= t0
            # D1 ^= FO(D0)
            t0 = b[a[x0 ^ ko1] ^ ki1] ^ x1
            t1 = b[a[x1 ^ ko2] ^ ki2] ^ t0
            t0 = b[a[t0 ^ ko3] ^ ki3] ^ t1
            y0 ^= t1 ^ ko4
            y1 ^= t0
            # FL^-1 on D0 and D1
            x0 ^= x1 | lb0
            x1 ^= x0 & la0
            y0 ^= y1 | lb1
            y1 ^= y0 & la1
        return (x0 << 48) | (x1 << 32) | (y0 << 16) | y1
