"""All I/O of the workflows, as activities grouped by dependency (one module per dependency)."""
