"""The `hearteye` command. Each subcommand is a thin wrapper over a library function."""

from __future__ import annotations

import json
import sys

import click

from hearteye import __version__
from hearteye.errors import HeartEyeError


@click.group()
@click.version_option(__version__, prog_name="hearteye")
def main() -> None:
    """HeartEye: read, clean, delineate and classify resting ECGs."""


def fail(err: HeartEyeError) -> None:
    """Print a typed error as one line (or JSON) and exit 2, the usage-error status."""
    click.echo(f"error [{err.code}]: {err.message}", err=True)
    sys.exit(2)


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, allow_nan=False, default=_json_default))


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


if __name__ == "__main__":  # pragma: no cover
    main()
