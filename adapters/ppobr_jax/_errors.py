"""The adapter's error type: ppobr_core.InvalidArgumentError when ppobr_core is importable (so
``except ppobr_core.InvalidArgumentError`` catches both), else an equivalent ValueError."""

from __future__ import annotations

try:  # ppobr_jax does not need the native core, but shares its error type when it is there
    from ppobr_core import InvalidArgumentError as _CoreError
except Exception:  # pragma: no cover - ppobr_core not installed
    _CoreError = None


if _CoreError is not None:

    def InvalidArgumentError(message: str, argument: str):  # noqa: N802 - a factory
        err = _CoreError(message)
        err.argument = argument
        return err

else:

    class _InvalidArgumentError(ValueError):
        """A bad argument or config value; ``.argument`` names it."""

        def __init__(self, message: str, argument: str = ""):
            super().__init__(message)
            self.argument = argument

    def InvalidArgumentError(message: str, argument: str):  # noqa: N802
        return _InvalidArgumentError(message, argument)


def error_type():
    """The exception class raised for bad arguments (for ``except`` clauses and tests)."""
    if _CoreError is not None:
        return _CoreError
    return _InvalidArgumentError
