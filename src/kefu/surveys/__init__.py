"""Customer satisfaction surveys: a link sent on the ticket, a public page to rate it."""
