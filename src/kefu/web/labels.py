"""Display names of the values kefu stores (statuses, priorities, channels, ...).

The values stay English identifiers in the database and the API; pages show these names,
translated through the catalogue."""

from __future__ import annotations

from kefu.web.i18n import N_, NC_

LABELS: dict[str, dict[str, str | tuple[str, str]]] = {
    "status": {
        "new": N_("New"),
        "open": N_("Open"),
        "pending": N_("Pending"),
        "on_hold": N_("On hold"),
        "solved": N_("Solved"),
        "closed": N_("Closed"),
    },
    "priority": {
        "low": N_("Low"),
        "normal": N_("Normal"),
        "high": N_("High"),
        "urgent": N_("Urgent"),
    },
    "type": {
        "question": N_("Question"),
        "incident": N_("Incident"),
        "problem": N_("Problem"),
        "task": N_("Task"),
    },
    "role": {
        "admin": N_("Admin"),
        "supervisor": N_("Supervisor"),
        "agent": N_("Agent"),
        "field_engineer": N_("Field engineer"),
    },
    "channel": {
        "api": NC_("channel", "API"),
        "email": NC_("channel", "Email"),
        "web": NC_("channel", "Web form"),
        "webform": NC_("channel", "Web form"),
        "webchat": NC_("channel", "Web chat"),
        "chat": NC_("channel", "Web chat"),
        "whatsapp": NC_("channel", "WhatsApp"),
        "telegram": NC_("channel", "Telegram"),
        "wechat": NC_("channel", "WeChat"),
        "sms": NC_("channel", "SMS"),
        "voice": NC_("channel", "Phone call"),
        "phone": NC_("channel", "Phone"),
        "external": NC_("channel", "Other"),
    },
    "field_type": {
        "text": N_("Text"),
        "number": N_("Number"),
        "date": N_("Date"),
        "select": N_("Drop-down"),
        "multi_select": N_("Multiple choice"),
        "checkbox": N_("Checkbox"),
    },
    "entity": {"ticket": N_("Ticket"), "customer": N_("Customer")},
    "link": {"related": N_("Related"), "duplicate": N_("Duplicate"), "parent": N_("Parent")},
    "tier": {"standard": N_("Standard"), "vip": N_("VIP")},
    "field": {
        "status": N_("Status"),
        "priority": N_("Priority"),
        "assignee_id": N_("Assignee"),
        "team_id": N_("Team"),
        "tags": N_("Tags"),
        "subject": N_("Subject"),
        "type": N_("Type"),
        "category": N_("Category"),
        "language": N_("Language"),
        "requester_id": N_("Requester"),
        "follower_ids": N_("Followers"),
        "first_responded_at": N_("First response"),
        "message": N_("Message"),
        "messages": N_("Messages"),
    },
    "event": {
        "created": N_("created the ticket"),
        "changed": N_("changed"),
        "merged_into": N_("merged this ticket into another"),
        "merged_from": N_("merged in"),
        "split_from": N_("split this ticket from"),
        "split_to": N_("split a message off to"),
        "linked": N_("linked"),
        "unlinked": N_("unlinked"),
        "rule_fired": N_("ran the rule"),
        "rule_failed": N_("could not do an action of a rule:"),
        "rule_chain_stopped": N_("stopped a chain of rules:"),
        "macro_applied": N_("applied the macro"),
        "survey_rated": N_("received a satisfaction rating:"),
    },
}

# Shapes as well as colours, so a status reads without colour vision.
STATUS_ORDER = ("new", "open", "pending", "on_hold", "solved", "closed")
PRIORITY_ORDER = ("urgent", "high", "normal", "low")
