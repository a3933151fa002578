"""The embeddable web form: a page kefu serves (inside an iframe on the company's site) and
the endpoint it posts to, which opens a ticket (docs/channels/webform.md)."""
