"""Identity normalisation (properties) and resolution of customers by identity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.customers import service as customers
from kefu.customers.identities import normalise_email, normalise_identity, normalise_phone
from kefu.runtime import Runtime

# Chinese mobile numbers, written the ways people write them.
mobiles = st.integers(min_value=13_000_000_000, max_value=19_999_999_999).map(str)
separators = st.sampled_from(["", " ", "-", "."])


@given(number=mobiles, sep=separators, prefix=st.sampled_from(["", "+86", "+86 ", "0086"]))
def test_one_phone_in_any_notation_is_one_identity(number: str, sep: str, prefix: str) -> None:
    written = prefix + sep.join([number[:3], number[3:7], number[7:]])
    normal = normalise_phone(written)
    assert normal == "+86" + number
    assert normalise_phone(normal) == normal


@given(
    local=st.from_regex(r"[a-z][a-z0-9._]{0,20}[a-z0-9]", fullmatch=True).filter(
        lambda s: ".." not in s
    ),
    domain=st.sampled_from(["example.com", "Example.COM", "mail.example.cn"]),
    upper=st.booleans(),
    pad=st.sampled_from(["", " ", "\t"]),
)
def test_emails_compare_without_case_or_padding(
    local: str, domain: str, upper: bool, pad: str
) -> None:
    written = pad + (local.upper() if upper else local) + "@" + domain + pad
    normal = normalise_email(written)
    assert normal == normal.lower() == f"{local}@{domain}".lower()
    assert normalise_email(normal) == normal


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "no-at-sign"),
        ("phone", "12"),
        ("phone", "call me"),
        ("wechat", "   "),
        ("fax", "1"),
    ],
)
def test_bad_identities_say_why(kind: str, value: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        normalise_identity(kind, value)


def test_resolve_finds_or_creates_once(sync_runtime: Runtime) -> None:
    rt = sync_runtime
    events: list[tuple[str, dict[str, Any]]] = []
    rt.bus.subscribe("customer.*", lambda e: events.append((e.name, e.payload)))
    first = rt.db.run_write(customers.resolve_contact, "email", "x@example.com", "Xu")
    again = rt.db.run_write(customers.resolve_contact, "email", "x@example.com", "Other Name")
    assert (first.created, again.created) == (True, False)
    assert first.id == again.id
    assert again.name == "Xu"
    nameless = rt.db.run_write(customers.resolve_contact, "phone", "+8613800138000")
    assert nameless.name == "+8613800138000"
    assert [name for name, _ in events] == ["customer.created", "customer.created"]
    assert events[0][1] == {"customer_id": first.id, "via": "email"}
    read = rt.db.run_read(customers.get_customer, first.id)
    assert read.last_contact_at is not None
    assert read.email == "x@example.com"
