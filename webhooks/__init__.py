"""Inbound Jira webhooks: verify → typed event → intent → one typed Temporal call."""
