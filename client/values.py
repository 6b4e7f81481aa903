"""`Value`: the base of the frozen value classes that the hot CLI commands import.

`import dataclasses` costs about 10 ms (it imports inspect, and inspect imports ast and
dis), a third of what `stsd env` is allowed to take. A subclass lists its fields in
`__slots__`, declares them `Final` (mypy then refuses assignments, as it does for a
frozen dataclass) and sets them in `__init__`; `Value` compares, hashes and prints them.
"""

from __future__ import annotations

__all__ = ["Value"]


class Value:
    __slots__: tuple[str, ...] = ()
    # Fields left out of repr (secrets).
    _hidden: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value) or type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = (
            f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name not in self._hidden
        )
        return f"{type(self).__name__}({', '.join(shown)})"
