"""The error hierarchy: one root, with branches that say whose fault it is.

Every error carries structured fields (file, line, field, rule, event, a "did you mean"
suggestion) besides its message, so that integrators can act on them without parsing text.
"""

from __future__ import annotations

__all__ = [
    "EngineUnavailableError",
    "EvaluationError",
    "InputError",
    "PackError",
    "RiskgradeError",
    "StorageError",
]


class RiskgradeError(Exception):
    """Root of every error riskgrade raises on purpose."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        rule: str | None = None,
        event: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        self.rule = rule
        self.event = event
        self.suggestion = suggestion
        super().__init__(self.describe())

    def describe(self) -> str:
        """Return ``file:line: field: message (did you mean ...?)`` with the known parts."""
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        parts = [where]
        if self.rule is not None:
            parts.append(f"rule {self.rule}: ")
        if self.event is not None:
            parts.append(f"event {self.event}: ")
        if self.field is not None:
            parts.append(f"{self.field}: ")
        parts.append(self.message)
        if self.suggestion is not None:
            parts.append(f" (did you mean {self.suggestion!r}?)")
        return "".join(parts)


class InputError(RiskgradeError):
    """A record, a file or an argument supplied by the caller is wrong (exit code 2)."""

    exit_code = 2


class PackError(RiskgradeError):
    """A rule pack is malformed, fails its type check or cannot be compiled (exit code 3)."""

    exit_code = 3


class EvaluationError(PackError):
    """A rule met data it cannot evaluate (e.g. a missing score a pack did not guard against)."""


class StorageError(RiskgradeError):
    """The ledger's storage is unreadable, inconsistent or was tampered with (exit code 4)."""

    exit_code = 4


class EngineUnavailableError(RiskgradeError):
    """An optional evaluator was asked for but its extra is not installed (exit code 2)."""

    exit_code = 2
