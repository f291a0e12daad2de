"""HeartEye: ECG reading, delineation, interpretation and classification."""

from hearteye.record import Record, RecordMeta

__version__ = "0.1.0"

__all__ = ["Record", "RecordMeta", "__version__", "analyze_many"]


def __getattr__(name: str):
    """`analyze_many` imported on first use: ``import hearteye`` stays light (no models, no
    ONNX Runtime) for code that only needs the Record type."""
    if name == "analyze_many":
        from hearteye.batch import analyze_many

        return analyze_many
    raise AttributeError(f"module 'hearteye' has no attribute {name!r}")
