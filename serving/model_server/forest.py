"""A scikit-learn random forest packed into flat arrays, evaluated for all trees at once.

`RandomForestClassifier.predict_proba` validates the input once per tree and goes through
joblib even with `n_jobs=1`: ~3.7 ms for one row and 100 trees, and one Python call of
`tree_.predict` per tree still costs ~0.6 ms. The arithmetic is a few thousand node visits, so
this packs every tree's nodes into one set of arrays and walks all (row, tree) pairs a level at a
time with numpy: one row through 100 trees takes ~0.05 ms.

The result is bit-identical to `predict_proba`: the same float32 input, the same `<=` against the
same float64 thresholds, each leaf's class fractions normalised as scikit-learn does, and the
trees summed in their order before one division. `predictor.verify_fast_path` still checks it at
load and falls back to the model's own predict when it disagrees. Rows with a missing value go
through each tree's compiled `predict`, which knows where a split sends NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
# Deep trees end most paths well before the deepest leaf: every few levels the pairs that reached
# a leaf are set aside, so later levels walk only the rest.
_COMPACT_EVERY = 8


def supports(model: Any) -> bool:
    """Single-output random forest / extra-trees classifiers, nothing else."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    return (
        type(model) in (RandomForestClassifier, ExtraTreesClassifier)
        and getattr(model, "n_outputs_", 0) == 1
    )


def _class_fractions(value: Any, n_classes: int) -> FloatArray:
    """A tree's node values (`tree_.value` or `tree_.predict`) as its `predict_proba` gives
    them: the first output's classes, each row divided by its sum."""
    value = value[:, 0, :n_classes] if value.ndim == 3 else value[:, :n_classes]
    normalizer = value.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    return np.asarray(value / normalizer, dtype=np.float64)


class ForestProba:
    """Callable `X -> probabilities`, equal to `model.predict_proba(X)`."""

    def __init__(self, model: Any) -> None:
        self._trees = [est.tree_ for est in model.estimators_]
        self._n_classes = int(model.n_classes_)
        self.classes = model.classes_
        sizes = [tree.node_count for tree in self._trees]
        starts = np.cumsum([0, *sizes])
        self._roots: IndexArray = starts[:-1].astype(np.intp)
        self._depth = max(tree.max_depth for tree in self._trees)
        total = int(starts[-1])
        self._feature: IndexArray = np.zeros(total, dtype=np.intp)
        self._threshold: FloatArray = np.zeros(total, dtype=np.float64)
        # children[2 * node + went_left]: a leaf points at itself, so extra levels are no-ops.
        self._children: IndexArray = np.zeros(2 * total, dtype=np.intp)
        self._fractions: FloatArray = np.zeros((total, self._n_classes), dtype=np.float64)
        for tree, start in zip(self._trees, self._roots, strict=True):
            end = start + tree.node_count
            leaf = tree.children_left == -1
            own = np.arange(tree.node_count)
            self._feature[start:end] = np.where(leaf, 0, tree.feature)
            self._threshold[start:end] = np.where(leaf, np.inf, tree.threshold)
            self._children[2 * start : 2 * end : 2] = start + np.where(
                leaf, own, tree.children_right
            )
            self._children[2 * start + 1 : 2 * end : 2] = start + np.where(
                leaf, own, tree.children_left
            )
            self._fractions[start:end] = _class_fractions(tree.value, self._n_classes)
        self._is_leaf = self._children[0::2] == np.arange(total)

    def __call__(self, x: FloatArray) -> FloatArray:
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        if np.isnan(x32).any():
            return self._per_tree(x32)
        n_rows, n_features = x32.shape
        n_trees = len(self._roots)
        flat = x32.reshape(-1)
        node = np.tile(self._roots, n_rows)
        row_start = np.repeat(np.arange(n_rows, dtype=np.intp) * n_features, n_trees)
        node = self._walk(flat, node, row_start)
        # Leaves come out (rows, trees); summed over trees in order, as scikit-learn accumulates.
        per_tree = self._fractions.take(node, axis=0).reshape(n_rows, n_trees, self._n_classes)
        total = np.add.reduce(np.ascontiguousarray(per_tree.transpose(1, 0, 2)), axis=0)
        total /= n_trees
        return np.asarray(total, dtype=np.float64)

    def _walk(self, flat: npt.NDArray[np.float32], node: IndexArray, row: IndexArray) -> IndexArray:
        """Every (row, tree) pair's leaf, a level at a time; pairs at a leaf drop out as we go."""
        done: list[tuple[IndexArray, IndexArray]] = []  # (positions, leaves) already settled
        position = np.arange(node.shape[0], dtype=np.intp)
        for level in range(self._depth):
            if level % _COMPACT_EVERY == _COMPACT_EVERY - 1:
                at_leaf = self._is_leaf.take(node)
                done.append((position[at_leaf], node[at_leaf]))
                keep = ~at_leaf
                position, node, row = position[keep], node[keep], row[keep]
                if node.shape[0] == 0:
                    break
            went_left = flat.take(row + self._feature.take(node)) <= self._threshold.take(node)
            node = self._children.take(2 * node + went_left)
        if not done:
            return node
        leaves = np.empty(sum(p.shape[0] for p, _ in done) + position.shape[0], dtype=np.intp)
        for settled, leaf in done:
            leaves[settled] = leaf
        leaves[position] = node
        return leaves

    def _per_tree(self, x32: npt.NDArray[np.float32]) -> FloatArray:
        total = np.zeros((x32.shape[0], self._n_classes), dtype=np.float64)
        for tree in self._trees:
            total += _class_fractions(tree.predict(x32), self._n_classes)
        total /= len(self._trees)
        return total

    def predict(self, x: FloatArray) -> npt.NDArray[Any]:
        return np.asarray(self.classes.take(np.argmax(self(x), axis=1), axis=0))
