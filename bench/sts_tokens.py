"""How fast the STS library issues tokens and derives decoder keys, on one core.

    python bench/sts_tokens.py [--seconds 1.0]

Figures printed:

* credit tokens/s through ``SoftwareSecurityModule.credit_token`` with the meter's decoder key
  cached (the repeat-customer path), for EA07 + DKGA02 and EA11 + DKGA04;
* the same without the security module (``encode_token`` with a prepared cipher);
* decoder-key derivations/s, DKGA02 (DES) and DKGA04 (HMAC-SHA-256);
* "fresh meter" vends/s: unwrap + derive + cipher setup + token, for a meter not in the cache
  (the gateway derives a fresh decoder key per meter, so per-key setup must stay cheap).

Targets: >= 20 000 EA07 and >= 10 000 EA11 tokens/s with the key cached.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

try:
    import sts
except ImportError:  # a checkout without `pip install -e .`: use the package beside bench/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import sts
from sts.meter_identity import luhn_check_digit

VK02 = bytes.fromhex("ABABABABABABABAB")  # published STS test key: demos and tests only
VK04 = bytes.fromhex("abababababababab949494949494949401234567")  # idem

METER_02 = sts.MeterKeyData(
    iin="600727", drn="00000000000", sgc="123456", ti="01", krn=1, kt=2, ea="07",
    base_date=2014, dkga="02",
)  # fmt: skip
METER_04 = sts.MeterKeyData(
    iin="600727", drn="00000000000", sgc="201457", ti="01", krn=1, kt=2, ea="11",
    base_date=2014, dkga="04",
)  # fmt: skip


def rate(
    label: str, operation: Callable[[int], object], seconds: float, limit: int | None = None
) -> float:
    """Run ``operation(i)`` for about ``seconds`` (at most ``limit`` times) and print
    operations per second."""
    for i in range(200):  # warm up (lazy tables, caches)
        operation(i)
    count = 0
    batch = 500
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds and (limit is None or count + batch <= limit):
        for i in range(count, count + batch):
            operation(i)
        count += batch
        elapsed = time.perf_counter() - start
    per_second = count / elapsed
    print(f"  {label:<58} {per_second:>10,.0f} /s  ({1e6 / per_second:7.1f} µs each)")
    return per_second


def drns(count: int) -> list[str]:
    """Distinct valid 11-digit DRNs, for cache-miss measurements."""
    numbers = []
    for serial in range(count):
        body = f"04{serial:08d}"
        numbers.append(body + luhn_check_digit(body))
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    print(f"Python {platform.python_version()} on {platform.machine()}, one process (one core)")
    hsm = sts.SoftwareSecurityModule(os.urandom(32), cache_size=100_000)
    wrapped02 = hsm.wrap_vending_key(VK02, METER_02.key_id)
    wrapped04 = hsm.wrap_vending_key(VK04, METER_04.key_id)

    print("Credit tokens, decoder key cached (security module):")
    ea07 = rate(
        "EA07 + DKGA02  SoftwareSecurityModule.credit_token",
        lambda i: hsm.credit_token(wrapped02, "123456/1", METER_02, 0, 10 + i % 1000, i, 5),
        seconds,
    )
    ea11 = rate(
        "EA11 + DKGA04  SoftwareSecurityModule.credit_token",
        lambda i: hsm.credit_token(wrapped04, "201457/1", METER_04, 0, 10 + i % 1000, i, 5),
        seconds,
    )

    print("Credit tokens, prepared cipher (library only):")
    sta = sts.cipher_for("07", hsm.decoder_key(wrapped02, "123456/1", METER_02))
    misty = sts.cipher_for("11", hsm.decoder_key(wrapped04, "201457/1", METER_04))
    rate(
        "EA07  encode_token(TransferCredit)",
        lambda i: sts.encode_token(sts.TransferCredit.rounded(0, i, 10 + i % 1000, 5), cipher=sta),
        seconds,
    )
    rate(
        "EA11  encode_token(TransferCredit)",
        lambda i: sts.encode_token(
            sts.TransferCredit.rounded(0, i, 10 + i % 1000, 5), cipher=misty
        ),
        seconds,
    )

    print("Decoder key derivations:")
    rate(
        "DKGA02 (DES)",
        lambda i: sts.dkga02(VK02, "600727", "00000000000", 2, "123456", "01", 1 + i % 9),
        seconds,
    )
    rate(
        "DKGA04 (HMAC-SHA-256), 128-bit key",
        lambda i: sts.dkga04(VK04, "600727000000000009", 2, "201457", "01", 1 + i % 9, 2014, "11"),
        seconds,
    )

    print("Fresh meter (cache miss: unwrap + derive + cipher setup + token):")
    fresh = 30_000
    numbers = drns(2 * (fresh + 200))
    meters02 = iter([replace(METER_02, drn=drn) for drn in numbers[: fresh + 200]])
    meters04 = iter([replace(METER_04, drn=drn) for drn in numbers[fresh + 200 :]])
    rate(
        "EA07 + DKGA02  first token for a meter",
        lambda i: hsm.credit_token(wrapped02, "123456/1", next(meters02), 0, 10, i, 5),
        seconds,
        limit=fresh,
    )
    rate(
        "EA11 + DKGA04  first token for a meter",
        lambda i: hsm.credit_token(wrapped04, "201457/1", next(meters04), 0, 10, i, 5),
        seconds,
        limit=fresh,
    )

    print(
        f"Targets: EA07 >= 20,000/s {'met' if ea07 >= 20_000 else 'MISSED'}; "
        f"EA11 >= 10,000/s {'met' if ea11 >= 10_000 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
