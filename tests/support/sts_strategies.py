"""Hypothesis strategies for STS values, shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

import sts

tids = st.integers(0, sts.MAX_TID)
rnds = st.integers(0, 15)
amounts = st.integers(0, sts.MAX_AMOUNT)
words16 = st.integers(0, 0xFFFF)
words32 = st.integers(0, 0xFFFFFFFF)


def _currency(subclass: int, tid: int, se_nibble: int, field: int) -> sts.CurrencyTransfer:
    # Drawn from the raw fields so that all 32 exponents and both signs come up.
    return sts.CurrencyTransfer(subclass, tid, sts.decode_currency(se_nibble, field))


credit_payloads = st.builds(sts.TransferCredit.rounded, st.integers(0, 3), tids, amounts, rnds)
currency_payloads = st.builds(_currency, st.integers(4, 7), tids, rnds, words16)
meter_test_payloads = st.one_of(
    st.builds(sts.MeterTest, st.just(0), st.integers(0, 2**36 - 1), st.integers(0, 255)),
    st.builds(sts.MeterTest, st.just(1), st.integers(0, 2**28 - 1), words16),
    st.builds(sts.MeterTest, st.just(2), st.integers(0, 2**36 - 1), st.integers(0, 255)),
)
management_payloads = st.one_of(
    st.builds(sts.SetMaximumPowerLimit.rounded, tids, amounts, rnds),
    st.builds(sts.ClearCredit, tids, words16, rnds),
    st.builds(sts.SetTariffRate, tids, words16, rnds),
    st.builds(sts.ClearTamperCondition, tids, rnds),
    st.builds(sts.SetMaximumPhasePowerUnbalanceLimit.rounded, tids, amounts, rnds),
    st.builds(sts.SetWaterMeterFactor, tids, words16, rnds),
    st.builds(sts.ExtendedTokenSet, tids, words16, rnds),
)
key_change_payloads = st.one_of(
    st.builds(
        sts.Set1stSectionDecoderKey,
        rnds,
        rnds,
        st.booleans(),
        st.integers(0, 1),
        st.integers(0, 3),
        words32,
    ),
    st.builds(sts.Set2ndSectionDecoderKey, rnds, st.integers(0, 255), words32),
    st.builds(sts.Set3rdSectionDecoderKey, st.integers(0, 0xFFF), words32),
    st.builds(sts.Set4thSectionDecoderKey, st.integers(0, 0xFFF), words32),
)
payloads = st.one_of(
    credit_payloads,
    currency_payloads,
    meter_test_payloads,
    management_payloads,
    key_change_payloads,
)


@st.composite
def ea_and_keys(draw: st.DrawFn) -> tuple[str, bytes]:
    ea = draw(st.sampled_from(["07", "09", "11"]))
    size = 16 if ea == "11" else 8
    return ea, draw(st.binary(min_size=size, max_size=size))
