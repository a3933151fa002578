"""The names a rule may refer to (teams, agents, queues, calendars, webhooks, custom
fields), looked up once per compile. Rules keep names, as people write them; a name that
no longer resolves makes the rule fail to compile, which its page and the log show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kefu.calendars.hours import BusinessHours

FieldKinds = Mapping[str, tuple[str, tuple[str, ...]]]  # key -> (type, options)


@dataclass(frozen=True)
class Refs:
    teams: Mapping[str, int] = field(default_factory=dict)  # lower-cased name -> id
    team_names: Mapping[int, str] = field(default_factory=dict)
    users: Mapping[str, int] = field(default_factory=dict)  # lower-cased email -> id
    queues: Mapping[str, int] = field(default_factory=dict)  # lower-cased name -> id
    calendars: Mapping[str, BusinessHours] = field(default_factory=dict)  # name -> hours
    webhooks: Mapping[str, int] = field(default_factory=dict)  # name -> id
    ticket_fields: FieldKinds = field(default_factory=dict)
    customer_fields: FieldKinds = field(default_factory=dict)
