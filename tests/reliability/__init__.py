"""Reliability and security checks: hostile input, fuzzing, faults, load, access."""
