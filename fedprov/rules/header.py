"""Parse the header of a rule file: the first paragraph of its leading comments.

The format is described in :mod:`fedprov.rules.loader`. This module only
turns the ``// key: value`` lines into a :class:`RuleHeader` and reports each
mistake with the file and line it sits on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from fedprov.errors import RuleError

__all__ = [
    "Bound",
    "RuleHeader",
    "Scalar",
    "parse_header",
    "parse_scalar",
    "rule_error",
]

#: A header value: what a ``// key: value`` line or a run_config entry holds.
Scalar = bool | int | float | str

_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
_PARAMETER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_HYPERPARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_LINE = re.compile(r"//(?P<indent>\s*)(?P<key>[^:\s][^:]*?)\s*:\s*(?P<value>.*?)\s*$")
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?")

_SCALAR_KEYS = {"name", "description", "priority", "cooldown", "enabled", "from_round"}
_MAPPING_KEYS = {"bounds", "parameters"}
_REQUIRED_KEYS = ("name", "description", "priority", "cooldown", "bounds")


def rule_error(path: Path, line: int, reason: str) -> RuleError:
    """Build the :class:`RuleError` for ``reason`` at ``path:line``."""
    return RuleError(f"{path}:{line}: {reason}")


@dataclass(frozen=True)
class Bound:
    """The values a rule may give one hyperparameter.

    ``minimum`` and ``maximum`` clamp numeric values (``None`` leaves that
    side open). A bound with ``numeric=False`` (written ``any``) accepts any
    scalar and clamps nothing.
    """

    minimum: float | None
    maximum: float | None
    numeric: bool = True

    def clamp(self, value: Scalar) -> Scalar:
        """Return ``value`` limited to the bound, keeping an integer an integer.

        Raises
        ------
        RuleError
            If the bound is numeric and ``value`` is not a number.
        """
        if not self.numeric:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleError(
                f"value {value!r} is not a number, but the bound "
                f"[{self.minimum}, {self.maximum}] is numeric; return a number "
                "or declare the bound as 'any'"
            )
        clamped: float = value
        if self.minimum is not None and clamped < self.minimum:
            clamped = self.minimum
        if self.maximum is not None and clamped > self.maximum:
            clamped = self.maximum
        if clamped == value:
            return value
        if isinstance(value, int):
            return (
                math.ceil(clamped) if clamped == self.minimum else math.floor(clamped)
            )
        return float(clamped)


@dataclass(frozen=True)
class RuleHeader:
    """The settings of a rule, as written in its header."""

    name: str
    description: str
    priority: int
    cooldown: int
    enabled: bool
    from_round: int
    #: Bounds by hyperparameter name, or by ``$parameter`` whose value names it.
    bounds: dict[str, Bound]
    #: Parameter defaults; run_config entries override them.
    parameters: dict[str, Scalar] = field(default_factory=dict)
    #: 1-based line of each header key and parameter, for error messages.
    lines: dict[str, int] = field(default_factory=dict)
    #: Line number of the last header line.
    length: int = 0


def parse_scalar(text: str) -> Scalar:
    """Parse a header value: ``true``/``false``, an integer, a float or a string.

    A value in single or double quotes is always a string.

    Examples
    --------
    >>> [parse_scalar(text) for text in ("0.05", "3", "yes", "'3'")]
    [0.05, 3, 'yes', '3']
    """
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _parse_bound(path: Path, line: int, text: str) -> Bound:
    if text.lower() == "any":
        return Bound(None, None, numeric=False)
    if not (text.startswith("[") and text.endswith("]")):
        raise rule_error(
            path,
            line,
            f"invalid bound {text!r}: expected '[minimum, maximum]' (either may be "
            "null) or 'any'",
        )
    parts = [part.strip() for part in text[1:-1].split(",")]
    if len(parts) != 2:
        raise rule_error(
            path, line, f"invalid bound {text!r}: expected exactly two values"
        )
    limits: list[float | None] = []
    for part in parts:
        if part.lower() == "null":
            limits.append(None)
            continue
        value = parse_scalar(part)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise rule_error(
                path, line, f"invalid bound {text!r}: {part!r} is not a number or null"
            )
        limits.append(value)
    minimum, maximum = limits
    if minimum is not None and maximum is not None and minimum > maximum:
        raise rule_error(
            path, line, f"invalid bound {text!r}: the minimum exceeds the maximum"
        )
    return Bound(minimum, maximum)


def _header_lines(text: str) -> list[tuple[int, str]]:
    """Return the numbered lines of the first paragraph of leading comments."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped.startswith("//") or stripped == "//":
            break
        lines.append((number, stripped))
    return lines


def _check_integer(path: Path, line: int, key: str, value: Scalar, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise rule_error(
            path, line, f"{key} must be an integer >= {minimum}, got {value!r}"
        )
    return value


def parse_header(path: Path, text: str) -> RuleHeader:
    """Parse the header of the rule file ``path`` whose content is ``text``.

    Raises
    ------
    RuleError
        If a key is unknown, repeated, missing or has an invalid value; the
        message starts with ``path:line``.
    """
    lines = _header_lines(text)
    if not lines:
        raise rule_error(
            path,
            1,
            "missing header: a rule file must start with '// name: ...' comment lines",
        )

    values: dict[str, Scalar] = {}
    bounds: dict[str, Bound] = {}
    parameters: dict[str, Scalar] = {}
    positions: dict[str, int] = {}
    section: str | None = None
    for number, line in lines:
        match = _LINE.fullmatch(line)
        if match is None:
            raise rule_error(
                path,
                number,
                f"invalid header line {line!r}: expected '// key: value'; end the "
                "header with a '//' line before free comments",
            )
        key, value = match["key"], match["value"]
        nested = len(match["indent"]) >= 2

        # Indented lines belong to the last 'bounds:' or 'parameters:' key.
        if nested:
            if section is None:
                raise rule_error(
                    path,
                    number,
                    f"indented entry {key!r} outside 'bounds:' or 'parameters:'",
                )
            target_lines = f"{section}.{key}"
            if target_lines in positions:
                raise rule_error(path, number, f"{section} entry {key!r} is repeated")
            positions[target_lines] = number
            if section == "bounds":
                bounds[key] = _parse_bound(path, number, value)
            else:
                if not _PARAMETER.fullmatch(key):
                    raise rule_error(
                        path,
                        number,
                        f"invalid parameter name {key!r}: use lowercase letters, "
                        "digits and underscores, starting with a letter or '_'",
                    )
                if value == "":
                    raise rule_error(path, number, f"parameter {key!r} has no value")
                parameters[key] = parse_scalar(value)
            continue

        section = None
        if key in positions:
            raise rule_error(path, number, f"header key {key!r} is repeated")
        positions[key] = number
        if key in _MAPPING_KEYS:
            if value != "":
                raise rule_error(
                    path,
                    number,
                    f"{key!r} takes indented '//   key: value' lines below it, not "
                    f"a value on its own line ({value!r})",
                )
            section = key
        elif key in _SCALAR_KEYS:
            if value == "":
                raise rule_error(path, number, f"header key {key!r} has no value")
            values[key] = parse_scalar(value)
        else:
            known = ", ".join(sorted(_SCALAR_KEYS | _MAPPING_KEYS))
            raise rule_error(
                path, number, f"unknown header key {key!r}; known keys: {known}"
            )

    end = lines[-1][0]
    for key in _REQUIRED_KEYS:
        if key not in positions:
            raise rule_error(
                path, end, f"header key {key!r} is missing; add '// {key}: ...'"
            )
    return _build_header(path, values, bounds, parameters, positions, end)


def _build_header(
    path: Path,
    values: dict[str, Scalar],
    bounds: dict[str, Bound],
    parameters: dict[str, Scalar],
    positions: dict[str, int],
    end: int,
) -> RuleHeader:
    name = str(values["name"])
    if not _NAME.fullmatch(name):
        raise rule_error(
            path,
            positions["name"],
            f"invalid rule name {name!r}: use lowercase letters, digits and '-', "
            "starting with a letter (at most 63 characters)",
        )
    enabled = values.get("enabled", True)
    if not isinstance(enabled, bool):
        raise rule_error(
            path,
            positions["enabled"],
            f"enabled must be true or false, got {enabled!r}",
        )
    if not bounds:
        raise rule_error(
            path,
            positions["bounds"],
            "bounds lists no hyperparameter; add one '//   name: [min, max]' line "
            "per hyperparameter the rule may change",
        )
    for key in bounds:
        target = key[1:] if key.startswith("$") else key
        line = positions[f"bounds.{key}"]
        if key.startswith("$") and target not in parameters:
            raise rule_error(
                path,
                line,
                f"bound {key!r} names no parameter declared under parameters",
            )
        if not key.startswith("$") and not _HYPERPARAMETER.fullmatch(key):
            raise rule_error(path, line, f"invalid hyperparameter name {key!r}")

    return RuleHeader(
        name=name,
        description=str(values["description"]),
        priority=_check_integer(
            path, positions["priority"], "priority", values["priority"], -(10**9)
        ),
        cooldown=_check_integer(
            path, positions["cooldown"], "cooldown", values["cooldown"], 0
        ),
        enabled=enabled,
        from_round=_check_integer(
            path,
            positions.get("from_round", end),
            "from_round",
            values.get("from_round", 1),
            1,
        ),
        bounds=bounds,
        parameters=parameters,
        lines=positions,
        length=end,
    )
