"""Use cases shared by the CLI, the HTTP API and the console, built on app/temporal's control."""
