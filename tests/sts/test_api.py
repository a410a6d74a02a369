"""The public API of ``sts`` is pinned: adding or removing a name is a deliberate act."""

from __future__ import annotations

import sts

EXPECTED = {
    # values and helpers
    "BASE_DATES", "MAX_AMOUNT", "MAX_TID", "SAMPLE_TABLES",
    "check_ken", "cipher_for", "control_block", "datetime_for_tid", "decode_amount",
    "decode_currency", "decode_token", "dkga02", "dkga04", "encode_amount", "encode_currency",
    "encode_token", "key_change_payloads", "key_change_tokens", "luhn_check_digit", "next_tid",
    "pan_block", "parse_meter_pan", "test_token", "tid_for", "validate_drn",
    # types
    "AcceptResult", "BlockCipher", "ClearCredit", "ClearTamperCondition", "CreditType",
    "CurrencyTransfer", "DeaCipher", "DecodedToken", "EncryptionAlgorithm", "ExtendedTokenSet",
    "KeyChangeCollector", "ManagementSubclass", "MeterAction", "MeterKeyData", "MeterNumber",
    "MeterSimulator", "MeterTest", "Misty1Cipher", "NewKeyData", "RejectReason", "ReservedToken",
    "SecurityModule", "Set1stSectionDecoderKey", "Set2ndSectionDecoderKey",
    "Set3rdSectionDecoderKey", "Set4thSectionDecoderKey", "SetMaximumPhasePowerUnbalanceLimit",
    "SetMaximumPowerLimit", "SetTariffRate", "SetWaterMeterFactor", "SoftwareSecurityModule",
    "StaCipher", "Token", "TokenClass", "TokenPayload", "TransferCredit",
    # errors
    "StsError", "InvalidFieldError", "MeterIdentityError", "CheckDigitError", "AmountRangeError",
    "TidRangeError", "KeyExpiredError", "TokenFormatError", "KeyChangeError",
    "SecurityModuleError", "KeyUnwrapError",
}  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert set(sts.__all__) == EXPECTED
    assert len(sts.__all__) == len(EXPECTED)  # no duplicates


def test_every_public_name_exists() -> None:
    for name in sts.__all__:
        assert getattr(sts, name) is not None, name


def test_every_error_is_an_sts_error() -> None:
    errors = [getattr(sts, name) for name in sts.__all__ if name.endswith("Error")]
    assert all(issubclass(error, sts.StsError) for error in errors)
    assert issubclass(sts.CheckDigitError, sts.MeterIdentityError)
    assert issubclass(sts.InvalidFieldError, ValueError)
    assert issubclass(sts.KeyUnwrapError, sts.SecurityModuleError)
