"""One exception hierarchy; each class carries the exit code every command uses for it."""
from __future__ import annotations

from pathlib import Path


class KgtoolError(Exception):
    """Base of every error kgtool raises on purpose; `exit_code` is the documented exit status."""

    exit_code = 70

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """`file:line: message (hint)`, the one line a user sees."""
        where = ""
        if self.path is not None:
            try:
                shown = self.path.resolve().relative_to(Path.cwd().resolve())
            except ValueError:
                shown = self.path
            where = f"{shown}:{self.line}: " if self.line else f"{shown}: "
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{where}{self.message}{hint}"


class BadInputError(KgtoolError):
    """Unreadable or malformed input: a file, a quote, an unknown name (exit 3)."""

    exit_code = 3


class ExternalComponentError(KgtoolError):
    """Java, a reasoner or a remote endpoint failed (exit 4)."""

    exit_code = 4
