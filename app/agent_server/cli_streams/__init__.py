"""Coding-agent CLIs run under a small wrapper: their event streams become log lines, their ends typed results."""
