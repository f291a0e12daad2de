"""Reliability and security checks (issue 7): hostile input, fuzzing, faults, load, access."""
