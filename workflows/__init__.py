"""Deterministic workflow code only: temporalio, the standard library and the dataclasses it exchanges."""
