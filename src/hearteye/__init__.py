"""HeartEye: ECG reading, delineation and classification."""

from hearteye.record import Record, RecordMeta

__version__ = "0.1.0"

__all__ = ["Record", "RecordMeta", "__version__"]
