"""clientIDs are EAN-13: the check digit catches a mistyped digit before a vendor is registered."""

from __future__ import annotations

import pytest

from vendor_accounts import InvalidClientId, ean13_check_digit, validate_client_id


@pytest.mark.parametrize(
    "client_id",
    [
        "6004000000019",
        "6004000000026",
        "6004000000095",
        "4006381333931",  # a retail EAN from the GS1 examples
        "0000000000000",
    ],
)
def test_valid_client_ids(client_id):
    assert validate_client_id(client_id) == client_id


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("6004000000018", "check digit should be 9"),
        ("6004000000091", "check digit should be 5"),
        ("6040000000019", "check digit"),  # two digits swapped
        ("600400000001", "13 digits"),
        ("60040000000190", "13 digits"),
        ("600400000001X", "13 digits"),
        ("６００４０００００００１９", "13 digits"),  # full-width digits are not ASCII digits
    ],
)
def test_invalid_client_ids(client_id, reason):
    with pytest.raises(InvalidClientId, match=reason) as refused:
        validate_client_id(client_id)
    assert refused.value.field == "client_id" and refused.value.value == client_id


def test_check_digit_weights_are_one_and_three_from_the_left():
    # 6*1 + 4*3 + 1*3 = 21 -> 9
    assert ean13_check_digit("600400000001") == 9
    assert ean13_check_digit("000000000000") == 0
    with pytest.raises(InvalidClientId):
        ean13_check_digit("12345")
