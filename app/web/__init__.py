"""The Flask surface: the app factory, one bearer check, the API, the console, live events, metrics and health."""
