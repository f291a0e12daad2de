"""HeartEye: ECG reading, delineation, interpretation and classification."""

from hearteye.record import Record, RecordMeta
from hearteye.version import __version__

__all__ = ["Record", "RecordMeta", "__version__", "analyze_many"]


def __getattr__(name: str):
    """`analyze_many` imported on first use: ``import hearteye`` stays light (no models, no
    ONNX Runtime) for code that only needs the Record type. The package root is a facade
    for users: modules inside HeartEye import from the module that defines a name, never from
    the root (the layers contract holds them to it)."""
    if name == "analyze_many":
        from hearteye.batch import analyze_many

        return analyze_many
    raise AttributeError(f"module 'hearteye' has no attribute {name!r}")
