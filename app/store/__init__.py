"""Persistence: engine and sessions, the SQLAlchemy models, migrations, and the job log."""
