"""Users (agents, supervisors, admins, field engineers), teams, API tokens, browser sessions."""
