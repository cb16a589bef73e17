"""`Neo4jFeatureStore`: PyG's `FeatureStore` over Neo4j node properties, read and written by index.

`store['item', 'year', index]` (or `store.get_tensor('item', 'year', index)`) reads property `year` of the
items at those rows (rows as `NodeTables` number them) in batches of `batch_size` nodes, one Bolt record a
batch: numbers come back as a float32 [n] tensor, lists of numbers (an embedding) as [n, d]. `x` is the
encoded feature matrix a sync builds, when the store is given the fitted `FeatureEncoder` (a model
directory's `features.json`). `put_tensor` writes a property on those rows (a 2-d tensor as a float32 vector
property, what a vector index reads); `remove_tensor` removes it. PyG's loaders read every registered
attribute of a batch's nodes at once (`multi_get_tensor`): one query per node type, all properties in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphrec.db import cypher
from graphrec.db.graph import Graph
from graphrec.db.mapping import validate_identifier
from graphrec.learn.features import FeatureEncoder
from graphrec.learn.pyg import FeatureStore, TensorAttr
from graphrec.learn.remote.nodes import IntArray, NodeTable, NodeTables
from graphrec.learn.sync import node_names

ENCODED = "x"
"""The attribute holding the encoded feature matrix (with an encoder)."""
DEFAULT_BATCH = 10_000


def _rows(index: Any, size: int) -> Tensor | None:
    """A TensorAttr index as a row tensor; None for every row (PyG's None or a full slice)."""
    if index is None:
        return None
    if isinstance(index, slice):
        if index == slice(None):
            return None
        return torch.arange(size)[index]
    if isinstance(index, int):
        return torch.tensor([index])
    return torch.as_tensor(index, dtype=torch.long).view(-1)


class Neo4jFeatureStore(FeatureStore):  # type: ignore[misc]  # PyG is untyped
    """Node properties of users and items as PyG tensors, fetched from Neo4j by row index in batches.

    `attributes` names, per node type, the properties registered up front (what `get_all_tensor_attrs`
    lists and PyG's loaders fetch for every batch); `encoder` adds `x`. Properties are the stored names.
    """

    def __init__(
        self,
        graph: Graph,
        tables: NodeTables | None = None,
        *,
        attributes: Mapping[str, Sequence[str]] | None = None,
        encoder: FeatureEncoder | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.graph = graph
        self.tables = tables if tables is not None else NodeTables.read(graph)
        self.encoder = encoder
        self.batch_size = batch_size
        self.attributes: dict[str, list[str]] = defaultdict(list)
        for node_type, names in (attributes or {}).items():
            _ = self.tables[node_type]  # an unknown node type fails here, naming the known ones
            self.attributes[node_type] = [validate_identifier(n, "property") for n in names]
        if encoder is not None:
            for node_type in self.tables.tables:
                if encoder.width(node_type) and ENCODED not in self.attributes[node_type]:
                    self.attributes[node_type].append(ENCODED)

    # reading ----------------------------------------------------------------------------------------------

    def _read(self, table: NodeTable, nids: IntArray, keys: list[str]) -> list[list[Any]]:
        """Per node of `nids` (in that order), the values of `keys`."""
        text = cypher.query(
            "remote/node_values", self.graph.mapping, names=node_names(self.graph.mapping, table.label)
        )
        out: list[list[Any]] = []
        for start in range(0, nids.size, self.batch_size):
            chunk = nids[start : start + self.batch_size]
            record = self.graph.single(text, {"nids": chunk.tolist(), "keys": keys})
            values: list[list[Any]] = [[]] * chunk.size
            for position, row in zip(record["positions"], record["values"], strict=True):
                values[position] = row
            out.extend(values)
        return out

    def _tensor(self, table: NodeTable, nids: IntArray, values: list[Any], key: str) -> Tensor:
        missing = [i for i, v in enumerate(values) if v is None]
        if missing:
            row = int(table.rows(nids[missing[:1]])[0])
            who = table.ids[row] if row >= 0 else f"internal id {int(nids[missing[0]])}"
            raise KeyError(
                f"{len(missing)} {table.node_type} node(s) have no property {key!r} (first: {who})"
            )
        try:
            array = np.asarray(values, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{table.node_type} property {key!r} is not a number or a list of numbers"
            ) from exc
        if array.dtype == object or array.ndim > 2:
            raise TypeError(f"{table.node_type} property {key!r} holds lists of different lengths")
        return torch.from_numpy(array)

    def _fetch(self, node_type: str, index: Any, names: list[str]) -> list[Tensor]:
        """The tensors of attributes `names` of one node type at `index`: one read for all of them (the
        properties asked for, and the encoder's inputs when `x` is among them)."""
        table = self.tables[node_type]
        nids = table.internal(_rows(index, len(table)))
        plain = [n for n in names if n != ENCODED]
        encoded = ENCODED in names
        if encoded and self.encoder is None:
            raise KeyError(f"{node_type} has no attribute 'x': the store has no feature encoder")
        inputs = self.encoder.keys(node_type) if encoded and self.encoder is not None else []
        rows = self._read(table, nids, plain + inputs) if plain or inputs else [[] for _ in range(nids.size)]
        out = []
        for name in names:
            if name == ENCODED:
                assert self.encoder is not None
                raw = self.encoder.raw(node_type)
                raw.add_batch([row[len(plain) :] for row in rows])
                out.append(torch.from_numpy(self.encoder.transform(node_type, raw)))
            else:
                column = plain.index(name)
                out.append(self._tensor(table, nids, [row[column] for row in rows], name))
        return out

    def _get_tensor(self, attr: TensorAttr) -> Tensor:
        name = (
            attr.attr_name if attr.attr_name == ENCODED else validate_identifier(attr.attr_name, "property")
        )
        return self._fetch(attr.group_name, attr.index, [name])[0]

    def _multi_get_tensor(self, attrs: list[TensorAttr]) -> list[Tensor]:
        """Grouped by node type and index, so a loader's batch costs one query per node type."""
        out: list[Tensor | None] = [None] * len(attrs)
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for position, attr in enumerate(attrs):
            groups[(attr.group_name, id(attr.index))].append(position)
        for (node_type, _), positions in groups.items():
            names = [attrs[p].attr_name for p in positions]
            for name in names:
                if name != ENCODED:
                    validate_identifier(name, "property")
            for p, tensor in zip(
                positions, self._fetch(node_type, attrs[positions[0]].index, names), strict=True
            ):
                out[p] = tensor
        return [t for t in out if t is not None]

    def _get_tensor_size(self, attr: TensorAttr) -> tuple[int, ...] | None:
        table = self.tables[attr.group_name]
        if len(table) == 0:
            return (0,)
        try:
            first = self._fetch(attr.group_name, torch.tensor([0]), [attr.attr_name])[0]
        except KeyError:
            return None
        index = _rows(attr.index, len(table)) if attr.is_set("index") else None  # PyG may leave it unset
        return (len(table) if index is None else int(index.numel()), *first.shape[1:])

    def get_all_tensor_attrs(self) -> list[TensorAttr]:
        """Every registered attribute (constructor, `put_tensor`, `x`), with no index (all rows)."""
        return [TensorAttr(t, name) for t, names in self.attributes.items() for name in names]

    # writing ----------------------------------------------------------------------------------------------

    def _put_tensor(self, tensor: Tensor, attr: TensorAttr) -> bool:
        table = self.tables[attr.group_name]
        key = validate_identifier(attr.attr_name, "property")
        if key in (ENCODED, self._id_property(table)):
            raise ValueError(
                f"{key!r} cannot be written through the feature store: it is computed, or the id"
            )
        index = _rows(attr.index, len(table))
        nids = table.internal(index)
        values = torch.as_tensor(tensor).detach().cpu().float()
        if values.size(0) != nids.size:
            raise ValueError(f"{values.size(0)} rows for {nids.size} {table.node_type} nodes")
        if values.dim() > 2:
            raise ValueError("only 1-d (a number a node) and 2-d (a vector a node) tensors can be stored")
        names = node_names(self.graph.mapping, table.label)
        vector = values.dim() == 2
        text = cypher.query(
            "remote/set_vectors" if vector else "remote/set_properties", self.graph.mapping, names=names
        )
        rows = values.tolist()
        for start in range(0, nids.size, self.batch_size):
            chunk = zip(
                nids[start : start + self.batch_size].tolist(),
                rows[start : start + self.batch_size],
                strict=True,
            )
            if vector:
                self.graph.single(
                    text, {"rows": [{"nid": n, "vector": v} for n, v in chunk], "key": key}, write=True
                )
            else:
                self.graph.single(
                    text, {"rows": [{"nid": n, "props": {key: v}} for n, v in chunk]}, write=True
                )
        if key not in self.attributes[table.node_type]:
            self.attributes[table.node_type].append(key)
        return True

    def _remove_tensor(self, attr: TensorAttr) -> bool:
        table = self.tables[attr.group_name]
        key = validate_identifier(attr.attr_name, "property")
        if key == self._id_property(table) or key == ENCODED or key not in self.attributes[table.node_type]:
            return False
        index = _rows(attr.index, len(table))
        nids = table.internal(index)
        text = cypher.query(
            "remote/set_properties", self.graph.mapping, names=node_names(self.graph.mapping, table.label)
        )
        for start in range(0, nids.size, self.batch_size):
            chunk = nids[start : start + self.batch_size].tolist()
            self.graph.single(text, {"rows": [{"nid": n, "props": {key: None}} for n in chunk]}, write=True)
        if index is None:
            self.attributes[table.node_type].remove(key)
        return True

    def _id_property(self, table: NodeTable) -> str:
        return node_names(self.graph.mapping, table.label)["User.id"]
