"""Node features: turn stored node properties into a float32 matrix, and do it again identically later.

Four kinds of feature, each a slice of columns in the matrix:
- `numeric`: standardised (mean 0, std 1 over the synced nodes), plus a "missing" column when some are absent;
- `categorical`: one-hot over the values seen at least `min_count` times (at most `max_categories`), plus one
  `<other>` column for rarer or unseen values;
- `multi`: a list of categories (genres) as multi-hot, with the same vocabulary rule and `<other>` column;
- `text`: word tokens hashed (CRC-32, stable across processes) into `buckets` columns, 1.0 where present.

`FeatureEncoder` is fitted while the sync streams nodes (values are kept as compact codes, never as rows),
saved as JSON with the model, and re-applied to cold nodes by `encode`, so a new item gets the same layout.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FeatureKind = Literal["numeric", "categorical", "multi", "text"]
KINDS: tuple[FeatureKind, ...] = ("numeric", "categorical", "multi", "text")
OTHER = "<other>"
MISSING = "<missing>"
_TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class FeatureOptions:
    """How categories and text are encoded: vocabulary thresholds and hash buckets."""

    min_count: int = 3
    max_categories: int = 100
    text_buckets: int = 128
    max_id_like_ratio: float = 0.5
    """An inferred single-word string property with more distinct values than this share of nodes (zip codes,
    e-mails) is treated as an identifier and skipped."""
    sample: int = 2_000
    """Nodes sampled per label to infer property kinds."""


@dataclass
class FeatureSpec:
    """One feature: which property it reads, how it is encoded, and (once fitted) where its columns are."""

    name: str
    property: str
    kind: FeatureKind
    offset: int = 0
    width: int = 0
    mean: float = 0.0
    std: float = 1.0
    has_missing: bool = False
    vocab: list[str] = field(default_factory=list)
    buckets: int = 0

    def column_names(self) -> list[str]:
        """A readable name for each of this feature's columns, in order."""
        if self.kind == "numeric":
            return [self.name] + ([f"{self.name}={MISSING}"] if self.has_missing else [])
        if self.kind == "text":
            return [f"{self.name}#{b}" for b in range(self.buckets)]
        return [f"{self.name}={v}" for v in self.vocab] + [f"{self.name}={OTHER}"]


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of `text` (letters and digits, any script)."""
    return _TOKEN.findall(text.lower())


def token_bucket(token: str, buckets: int) -> int:
    """The hash bucket of `token`: CRC-32, so it is the same in every process (unlike `hash`)."""
    return zlib.crc32(token.encode("utf-8")) % buckets


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


class _Column:
    """Raw values of one feature, accumulated batch by batch as compact numpy chunks (no Python rows)."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.chunks: list[npt.NDArray[Any]] = []
        self.lengths: list[npt.NDArray[np.int32]] = []
        self.codes: dict[str, int] = {}
        self.counts: Counter[int] = Counter()

    def _code(self, value: Any) -> int:
        key = value if isinstance(value, str) else str(value)
        code = self.codes.get(key)
        if code is None:
            code = self.codes[key] = len(self.codes)
        return code

    def add(self, values: Sequence[Any]) -> None:
        """Append one batch of raw property values (None where a node lacks the property)."""
        kind = self.spec.kind
        if kind == "numeric":
            self.chunks.append(np.array([_as_float(v) for v in values], dtype=np.float64))
            return
        if kind == "categorical":
            codes = np.array([-1 if v is None else self._code(v) for v in values], dtype=np.int64)
            self.counts.update(codes[codes >= 0].tolist())
            self.chunks.append(codes)
            return
        flat: list[int] = []
        lengths = np.zeros(len(values), dtype=np.int32)
        for row, value in enumerate(values):
            if value is None:
                continue
            if kind == "multi":
                items = value if isinstance(value, (list, tuple)) else [value]
                found = {self._code(v) for v in items if v is not None}
            else:
                found = {token_bucket(t, self.spec.buckets) for t in tokens(str(value))}
            flat.extend(found)
            lengths[row] = len(found)
        chunk = np.array(flat, dtype=np.int64)
        if kind == "multi":
            self.counts.update(flat)
        self.chunks.append(chunk)
        self.lengths.append(lengths)

    def values(self) -> npt.NDArray[Any]:
        """All values added so far, concatenated."""
        dtype = np.float64 if self.spec.kind == "numeric" else np.int64
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=dtype)

    def row_lengths(self) -> npt.NDArray[np.int32]:
        """For list-valued kinds: how many codes each node contributed."""
        return np.concatenate(self.lengths) if self.lengths else np.zeros(0, dtype=np.int32)

    def vocab_lookup(self) -> npt.NDArray[np.int64]:
        """Map each raw code to its column within the feature (vocabulary position, or the `<other>` one)."""
        position = {value: i for i, value in enumerate(self.spec.vocab)}
        other = len(self.spec.vocab)
        lookup = np.full(len(self.codes), other, dtype=np.int64)
        for value, code in self.codes.items():
            lookup[code] = position.get(value, other)
        return lookup


class RawFeatures:
    """The raw columns of one node type while nodes stream in; `FeatureEncoder` fits and encodes them."""

    def __init__(self, specs: Sequence[FeatureSpec]) -> None:
        self.columns = [_Column(spec) for spec in specs]
        self.count = 0

    def add_batch(self, props: Sequence[Sequence[Any]]) -> None:
        """Add a batch: one list of property values per node, in the order of `FeatureEncoder.keys`."""
        self.count += len(props)
        for j, column in enumerate(self.columns):
            column.add([row[j] for row in props])


@dataclass
class FeatureEncoder:
    """Per node type, the ordered features and their fitted parameters; JSON-serialisable and re-usable."""

    node_types: dict[str, list[FeatureSpec]] = field(default_factory=dict)
    options: FeatureOptions = field(default_factory=FeatureOptions)

    def keys(self, node_type: str) -> list[str]:
        """The stored property keys to read for `node_type`, in column order."""
        return [spec.property for spec in self.node_types.get(node_type, [])]

    def width(self, node_type: str) -> int:
        """The number of feature columns of `node_type` (0 when it has no features)."""
        specs = self.node_types.get(node_type, [])
        return specs[-1].offset + specs[-1].width if specs else 0

    def layout(self, node_type: str) -> dict[str, tuple[int, int]]:
        """Each feature's column slice `(start, stop)` in the matrix of `node_type`."""
        return {s.name: (s.offset, s.offset + s.width) for s in self.node_types.get(node_type, [])}

    def column_names(self, node_type: str) -> list[str]:
        """One readable name per column of `node_type`'s matrix."""
        return [name for spec in self.node_types.get(node_type, []) for name in spec.column_names()]

    def raw(self, node_type: str) -> RawFeatures:
        """An empty accumulator for `node_type`'s features."""
        return RawFeatures(self.node_types.get(node_type, []))

    def fit(self, node_type: str, raw: RawFeatures) -> None:
        """Fix means, spreads, vocabularies and column offsets of `node_type` from the accumulated values."""
        offset = 0
        opts = self.options
        for column in raw.columns:
            spec = column.spec
            if spec.kind == "numeric":
                values = column.values()
                present = values[~np.isnan(values)]
                spec.mean = float(present.mean()) if present.size else 0.0
                std = float(present.std()) if present.size else 0.0
                spec.std = std if std > 1e-12 else 1.0
                spec.has_missing = bool(present.size < values.size)
                spec.width = 2 if spec.has_missing else 1
            elif spec.kind in ("categorical", "multi"):
                by_code = {code: value for value, code in column.codes.items()}
                frequent = [
                    (count, by_code[code]) for code, count in column.counts.items() if count >= opts.min_count
                ]
                frequent.sort(key=lambda cv: (-cv[0], cv[1]))
                spec.vocab = [value for _, value in frequent[: opts.max_categories]]
                spec.width = len(spec.vocab) + 1
            else:
                spec.width = spec.buckets
            spec.offset = offset
            offset += spec.width

    def transform(self, node_type: str, raw: RawFeatures) -> npt.NDArray[np.float32]:
        """The float32 feature matrix `[nodes, width]` of accumulated values, with the fitted layout."""
        n = raw.count
        x = np.zeros((n, self.width(node_type)), dtype=np.float32)
        for column in raw.columns:
            spec = column.spec
            if spec.kind == "numeric":
                values = column.values()
                missing = np.isnan(values)
                x[:, spec.offset] = np.where(missing, 0.0, (values - spec.mean) / spec.std)
                if spec.has_missing:
                    x[:, spec.offset + 1] = missing
            elif spec.kind == "categorical":
                codes = column.values()
                rows = np.flatnonzero(codes >= 0)
                x[rows, spec.offset + column.vocab_lookup()[codes[rows]]] = 1.0
            else:
                flat = column.values()
                rows = np.repeat(np.arange(n), column.row_lengths())
                cols = column.vocab_lookup()[flat] if spec.kind == "multi" else flat
                x[rows, spec.offset + cols] = 1.0
        return x

    def encode(self, node_type: str, rows: Iterable[Mapping[str, Any]]) -> npt.NDArray[np.float32]:
        """Featurise new (cold) nodes like the synced ones; rows map logical (or stored) names to values."""
        specs = self.node_types.get(node_type, [])
        raw = self.raw(node_type)
        raw.add_batch([[row.get(s.name, row.get(s.property)) for s in specs] for row in rows])
        return self.transform(node_type, raw)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of every feature and its fitted parameters."""
        return {
            "options": asdict(self.options),
            "node_types": {t: [asdict(s) for s in specs] for t, specs in self.node_types.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        """Rebuild an encoder saved with `to_dict`."""
        return cls(
            node_types={
                t: [FeatureSpec(**s) for s in specs] for t, specs in data.get("node_types", {}).items()
            },
            options=FeatureOptions(**data.get("options", {})),
        )

    def save(self, path: Path) -> None:
        """Write the encoder as JSON."""
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FeatureEncoder:
        """Read an encoder written by `save`."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class PropertyStats:
    """What a sample of nodes says about one property: how often it is set, its value types, its spread."""

    key: str
    nodes: int
    types: list[str]
    distinct: int
    words: float


def infer_kind(stats: PropertyStats, sampled: int, options: FeatureOptions) -> FeatureKind | None:
    """The feature kind a property's sampled value types suggest, or None to skip it (ids, vectors, dates)."""
    types = {t.replace(" NOT NULL", "") for t in stats.types} - {"NULL"}
    if not types:
        return None
    if types <= {"INTEGER", "FLOAT", "BOOLEAN"}:
        return "numeric"
    if types <= {"LIST<STRING>", "STRING"} and "LIST<STRING>" in types:
        return "multi"
    if types == {"STRING"}:
        if stats.words >= 2.0:
            return "text"
        many = stats.distinct > options.max_categories
        if many and stats.distinct > options.max_id_like_ratio * max(sampled, 1):
            return None  # zip codes, e-mails: too many values to one-hot, too few words to hash
        if stats.nodes > 2 and stats.distinct == stats.nodes:
            return None  # unique on every node that has it: an identifier
        return "categorical"
    return None


def make_spec(name: str, prop: str, kind: str, options: FeatureOptions) -> FeatureSpec:
    """A not-yet-fitted spec; `kind` must be one of `KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"feature {name!r}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return FeatureSpec(
        name=name,
        property=prop,
        kind=kind,
        buckets=options.text_buckets if kind == "text" else 0,
    )
