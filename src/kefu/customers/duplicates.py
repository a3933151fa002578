"""Merge suggestions: customers who are probably one person, found by the same phone number
under several identities (a phone and a WhatsApp id), the same mailbox written differently,
the same name in the same company, or very similar names where they share a company or a
company email domain. Nothing is merged here: an agent confirms each suggestion with the
customer merge.

Candidates are grouped into blocks (a number, a mailbox, a company, a domain) and only
customers within a block are compared, so the work grows with the customers, not their
square; a block larger than ``MAX_BLOCK`` (a shared switchboard number) is skipped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from rapidfuzz import fuzz

from kefu.customers import repository as repo
from kefu.customers.schemas import CustomerBrief, DuplicateSuggestion
from kefu.db import Ctx

MAX_BLOCK = 50
NAME_SIMILARITY = 90.0
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "139.com",
        "sina.com",
        "sohu.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "mail.ru",
    ]
)


@dataclass
class _Pair:
    reasons: dict[str, float] = field(default_factory=dict)

    def add(self, reason: str, score: float) -> None:
        self.reasons[reason] = max(score, self.reasons.get(reason, 0.0))

    @property
    def score(self) -> float:
        unlikely = 1.0
        for s in self.reasons.values():
            unlikely *= 1.0 - s
        return round(1.0 - unlikely, 3)


def canonical_email(value: str) -> str:
    """The mailbox behind an address: no +tag, and Gmail ignores dots."""
    local, _, domain = value.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _name_key(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().casefold()


class _Finder:
    def __init__(self, people: list[tuple[int, str, int | None]]) -> None:
        self.names = {i: n for i, n, _ in people}
        self.companies = {i: c for i, _, c in people}
        self.pairs: dict[tuple[int, int], _Pair] = defaultdict(_Pair)

    def block(self, members: Iterable[int], reason: str, score: float) -> None:
        ids = sorted(set(members))
        if 1 < len(ids) <= MAX_BLOCK:
            for a, b in combinations(ids, 2):
                self.pairs[(a, b)].add(reason, score)

    def similar_names(self, members: Iterable[int], where: str) -> None:
        ids = sorted(set(members))
        if not 1 < len(ids) <= MAX_BLOCK:
            return
        for a, b in combinations(ids, 2):
            na, nb = _name_key(self.names[a]), _name_key(self.names[b])
            if na and nb and na != nb:
                similarity = fuzz.token_sort_ratio(na, nb)
                if similarity >= NAME_SIMILARITY:
                    self.pairs[(a, b)].add(f"similar names ({similarity:.0f}%) {where}", 0.6)


def _find(ctx: Ctx) -> _Finder:
    people, identities = repo.duplicate_candidates(ctx.session, ("email", "phone", "whatsapp"))
    finder = _Finder(people)
    numbers, mailboxes, domains = defaultdict(set), defaultdict(set), defaultdict(set)
    for customer_id, kind, value in identities:
        if kind == "email":
            mailboxes[canonical_email(value)].add(customer_id)
            domain = value.rpartition("@")[2].lower()
            if domain not in FREE_MAIL:
                domains[domain].add(customer_id)
        else:
            numbers[value].add(customer_id)
    for number, ids in numbers.items():
        finder.block(ids, f"same phone number {number}", 0.9)
    for mailbox, ids in mailboxes.items():
        finder.block(ids, f"same mailbox {mailbox}", 0.9)
    by_company, by_name = defaultdict(set), defaultdict(set)
    for customer_id, name, company_id in people:
        if company_id is not None:
            by_company[company_id].add(customer_id)
            if _name_key(name):
                by_name[(_name_key(name), company_id)].add(customer_id)
    for ids in by_name.values():
        finder.block(ids, "same name in the same company", 0.8)
    for ids in by_company.values():
        finder.similar_names(ids, "in the same company")
    for domain, ids in domains.items():
        finder.similar_names(ids, f"at {domain}")
    return finder


def suggestions(
    ctx: Ctx, customer_id: int | None = None, limit: int = 50
) -> list[DuplicateSuggestion]:
    """Likely duplicates, most certain first; with ``customer_id``, only theirs."""
    finder = _find(ctx)
    found = [
        (pair.score, a, b, pair)
        for (a, b), pair in finder.pairs.items()
        if customer_id is None or customer_id in (a, b)
    ]
    found.sort(key=lambda row: (-row[0], row[1], row[2]))
    result = []
    for score, a, b, pair in found[:limit]:
        if customer_id is not None and b == customer_id:
            a, b = b, a
        result.append(
            DuplicateSuggestion(
                customer=CustomerBrief(id=a, name=finder.names[a]),
                other=CustomerBrief(id=b, name=finder.names[b]),
                score=score,
                reasons=sorted(pair.reasons),
            )
        )
    return result
