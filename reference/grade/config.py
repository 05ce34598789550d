"""What an assignment expects: ``grading.toml``, read with ``tomllib``.

::

    seed = 0                     # seeds the battery's random configurations and arrays
    random_configurations = 8    # per kind, after the named ones
    time_limit = 60              # wall seconds per submission (CPU seconds too)
    memory_limit = 2048          # MB of address space per submission
    processes = 64               # processes and threads per submission

    [kinds.conv2d]
    points = 10
    hidden = ["random 3", "padding > 0"]   # count toward the score; students see only
                                           # how many of them failed
    exclude = ["untied bias", "untied bias, batch > 1"]   # not the assignment's: neither
                                           # checked nor scored (CS231n's convolution has
                                           # a tied bias only)
    [kinds.maxpool2d]
    points = 5

    [declare.FullyConnected]     # a class of its own making, checked through a declaration
    kind = "dense"               # (the keys of ``reference.check.declare``)
    weight = "W"
    weight_layout = "(in, out)"

Every kind listed is expected: a submission without one gets 0 of its points, "not found".
Without a file, every checked kind is expected, for 1 point each.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:                                                      # the same parser, from PyPI
    import tomli as tomllib

from reference.check.battery import RANDOM_CONFIGURATIONS, battery
from reference.check.styles.declared import DeclarationError
from reference.check.styles.declared import read as declare_read
from reference.grade.isolation import Limits
from reference.kinds import CHECKED_KINDS, KINDS

TOP_KEYS = ("seed", "random_configurations", "time_limit", "memory_limit", "processes",
            "kinds", "declare")
KIND_KEYS = ("points", "hidden", "exclude")


class ConfigError(ValueError):
    """A ``grading.toml`` that does not say what it must; the message names the file and
    the key."""


@dataclass(frozen=True)
class KindConfig:
    """One expected kind: its points, and the names of its hidden configurations and of
    those the assignment leaves out."""

    points: float = 1.0
    hidden: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class GradingConfig:
    """The assignment: the kinds expected (in order), the battery's seed and size, and the
    limits each submission runs under."""

    kinds: dict[str, KindConfig] = field(
        default_factory=lambda: {kind: KindConfig() for kind in CHECKED_KINDS})
    seed: int = 0
    random_configurations: int = RANDOM_CONFIGURATIONS
    limits: Limits = field(default_factory=Limits)
    declarations: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def max_score(self) -> float:
        return sum(k.points for k in self.kinds.values())


def load_config(path: Path) -> GradingConfig:
    """Read ``path`` (TOML); ConfigError naming the file and the key when it is wrong."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return parse_config(data, str(path))


def parse_config(data: dict[str, Any], where: str = "grading.toml") -> GradingConfig:
    """The ``GradingConfig`` a parsed TOML document says (see the module)."""
    def fail(message: str) -> ConfigError:
        return ConfigError(f"{where}: {message}")

    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}: expected {', '.join(TOP_KEYS)}")

    def integer(key: str, default: int, low: int) -> int:
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise fail(f"{key} must be an integer >= {low}, got {value!r}")
        return value

    seed = integer("seed", 0, 0)
    random_configurations = integer("random_configurations", RANDOM_CONFIGURATIONS, 0)
    time_limit = integer("time_limit", int(Limits.wall_seconds), 1)
    memory = integer("memory_limit", Limits.memory_bytes // 2**20, 64)
    processes = integer("processes", Limits.processes, 1)
    kinds_data = data.get("kinds", {kind: {} for kind in CHECKED_KINDS})
    if not isinstance(kinds_data, dict) or not kinds_data:
        raise fail("[kinds] must name at least one kind, e.g. [kinds.conv2d]")
    kinds = {}
    for kind, spec in kinds_data.items():
        if kind not in CHECKED_KINDS:
            raise fail(f"unknown kind [kinds.{kind}]: expected one of "
                       f"{', '.join(CHECKED_KINDS)}")
        if not isinstance(spec, dict):
            raise fail(f"[kinds.{kind}] must be a table (points = ..., hidden = [...])")
        extra = sorted(set(spec) - set(KIND_KEYS))
        if extra:
            raise fail(f"[kinds.{kind}]: unknown key {extra[0]!r}: expected "
                       f"{', '.join(KIND_KEYS)}")
        points = spec.get("points", 1.0)
        if isinstance(points, bool) or not isinstance(points, int | float) \
                or not math.isfinite(points) or points < 0:
            raise fail(f"[kinds.{kind}] points must be a number >= 0, got {points!r}")
        names = [c.name for c in battery(kind, random_configurations, seed)]

        def configurations(key: str, kind: str = kind, spec: dict = spec,
                           names: list[str] = names) -> tuple[str, ...]:
            listed = spec.get(key, [])
            if not isinstance(listed, list) or not all(isinstance(h, str) for h in listed):
                raise fail(f"[kinds.{kind}] {key} must be a list of configuration names")
            for name in listed:
                if name not in names:
                    raise fail(f"[kinds.{kind}] {key}: no configuration named {name!r} (the "
                               f"battery has: {', '.join(names)})")
            return tuple(dict.fromkeys(listed))

        hidden, exclude = configurations("hidden"), configurations("exclude")
        if set(hidden) & set(exclude):
            raise fail(f"[kinds.{kind}] {sorted(set(hidden) & set(exclude))[0]!r} is both "
                       f"hidden and excluded")
        if len(exclude) == len(names):
            raise fail(f"[kinds.{kind}] exclude leaves no configuration to check")
        kinds[kind] = KindConfig(float(points), hidden, exclude)
    limits = Limits(wall_seconds=float(time_limit), cpu_seconds=time_limit,
                    memory_bytes=memory * 2**20, processes=processes)
    return GradingConfig(kinds, seed, random_configurations, limits,
                         declarations(data.get("declare", {}), fail))


def declarations(data: Any, fail: Any) -> dict[str, dict[str, Any]]:
    """``[declare.NAME]`` tables: class name -> its declaration (``kind`` and the keys of
    ``reference.check.declare``), each read as the checker reads it, so a wrong key is one
    line here, before any submission runs."""
    if not isinstance(data, dict):
        raise fail("[declare] must hold one table per class, e.g. [declare.Conv3x3]")
    read = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise fail(f"[declare.{name}] needs kind = one of {', '.join(KINDS)}")
        options = {k: v for k, v in spec.items() if k != "kind"}
        try:
            declare_read(options, spec["kind"])
        except DeclarationError as err:
            raise fail(f"[declare.{name}] {err}") from None
        read[name] = dict(spec)
    return read
