"""The Temporal worker process: its main loop, the one registry of workflows and activities, and its start-up."""
