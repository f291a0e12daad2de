"""Readers: every ECG file format HeartEye accepts becomes a `hearteye.Record`."""

from hearteye.io.wfdb import read_wfdb

__all__ = ["read_wfdb"]
