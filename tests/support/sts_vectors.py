"""The published STS test vectors (tests/sts/data/vectors.json), loaded once.

The vectors are data of the project, so a fresh clone with nothing beside it runs every one of
them; tests/sts/data/README.md says where they come from. The location can be overridden with
STS_VECTORS. A missing file is an error, never a skip: without the vectors the library is
untested against the standard.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

Vector = dict[str, Any]


DEFAULT_VECTORS = Path(__file__).resolve().parents[1] / "sts" / "data" / "vectors.json"
KINDS = (
    "crc16",
    "tid",
    "amount_encode",
    "meter_pan",
    "drn_luhn_invalid",
    "dkga02",
    "dkga04",
    "misty1_encrypt",
    "misty1_keyschedule",
    "sta_encrypt_sample_tables",
    "token_class0",
    "token_class0_currency",
    "token_class0_currency_decode",
    "token_class1",
    "token_class2",
    "token_class2_extended",
    "token_class2_keychange",
)


def vectors_path() -> Path:
    return Path(os.environ.get("STS_VECTORS", DEFAULT_VECTORS))


@cache
def all_vectors() -> tuple[Vector, ...]:
    path = vectors_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"STS vectors not found at {path}: set STS_VECTORS or restore tests/sts/data/"
        )
    data = json.loads(path.read_text())
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path} holds no vectors")
    return tuple(data)


def vectors(*kinds: str) -> list[Vector]:
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown vector kinds {unknown}")
    found = [v for v in all_vectors() if v["kind"] in kinds]
    if not found:
        raise LookupError(f"no vectors of kind {kinds} in {vectors_path()}")
    return found


def vector_id(vector: Vector) -> str:
    inputs = vector["inputs"]
    label = str(vector["kind"])
    for key in ("ea", "class", "subclass", "tid"):
        if key in inputs:
            label += f"-{key}{inputs[key]}"
    return label


# --------------------------------------------------------------------------- reading token vectors
# Token vectors give the fields in several spellings (one per source); these helpers read them.


def rnd_of(inputs: Vector) -> int:
    value = inputs["rnd"] if "rnd" in inputs else inputs.get("rnd_or_SE", 0)
    return int(value)


def value_field_of(inputs: Vector) -> int | None:
    text = inputs.get("value_field_hex", inputs.get("amount_field_hex"))
    return None if text is None else int(text, 16)


def amount_tenths_of(inputs: Vector) -> int | None:
    for key in ("amount_0.1_units", "amount_0.1_units_decoded"):
        if key in inputs:
            return int(inputs[key])
    return None


def currency_amount_of(inputs: Vector) -> str | None:
    """The currency amount as a decimal string, from whichever form the vector gives.

    The exponent/mantissa form is evaluated with the formula of IEC 62055-41 6.3.6.3 written out
    here independently of the library.
    """
    if "currency_amount_units" in inputs:
        return str(inputs["currency_amount_units"])
    sign = "-" if inputs.get("sign") else ""
    if "transfer_amount_1e-5_units" in inputs:
        return f"{sign}{inputs['transfer_amount_1e-5_units']}E-5"
    if "exponent_e" in inputs and "mantissa" in inputs:
        e = int(inputs["exponent_e"])
        units = int(inputs["mantissa"]) * 10**e + sum(
            2**14 * 10 ** (n - 1) for n in range(1, e + 1)
        )
        return f"{sign}{units}E-5"
    return None


def base_year_of(inputs: Vector) -> int | None:
    year = inputs.get("tid_base_year")
    return None if year is None else int(year)


def new_key_hex_of(inputs: Vector) -> str:
    """The new decoder key, or (when a vector gives only its own section) a key with that
    section in place and zeros elsewhere."""
    if "new_decoder_key_hex" in inputs:
        return str(inputs["new_decoder_key_hex"])
    wide = inputs.get("ea") == "11"
    sections = {
        "NKHO_hex": 0,
        "NKMO2_hex": 1,
        "NKMO1_hex": 2,
        "NKLO_hex": 3 if wide else 1,
    }
    words = ["00000000"] * (4 if wide else 2)
    for key, index in sections.items():
        if key in inputs:
            words[index] = inputs[key]
    return "".join(words)


def ken_of(inputs: Vector) -> int:
    return int(inputs.get("KENHO", 0)) << 4 | int(inputs.get("KENLO", 0))


def new_sgc_of(inputs: Vector) -> str | None:
    if "new_SGC" in inputs:
        return str(inputs["new_SGC"])
    if "SGCHO" in inputs or "SGCLO" in inputs:
        return f"{int(inputs.get('SGCHO', 0)) << 12 | int(inputs.get('SGCLO', 0)):06d}"
    return None
