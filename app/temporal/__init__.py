"""Temporal from our side: the client gateway, the one control module for our workflows, and the schedules."""
