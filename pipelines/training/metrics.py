"""Binary-classification metrics in plain numpy (the evaluation container needs nothing else)."""

from __future__ import annotations

import numpy as np


def binary(labels: np.ndarray) -> np.ndarray:
    """``labels`` as a 0/1 int array; a ValueError if any is not exactly 0 or 1 (none is rounded)."""
    values = np.asarray(labels)
    valid = np.isin(values, (0, 1))
    if not valid.all():
        raise ValueError(
            f"labels must be exactly 0 or 1; {int((~valid).sum())} are not, e.g. {values[~valid][:3].tolist()}"
        )
    return values.astype(int)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the probability a positive outranks a negative (ties count half)."""
    labels = binary(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both classes")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=float)
    sorted_scores = np.asarray(scores)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        ranks[order[start : start + count]] = start + (count + 1) / 2.0
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def classification_report(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
    """AUC, accuracy, precision, recall, F1 and the confusion matrix at ``threshold``."""
    labels = binary(labels)
    predicted = (np.asarray(scores) >= threshold).astype(int)
    tp = int(((predicted == 1) & (labels == 1)).sum())
    tn = int(((predicted == 0) & (labels == 0)).sum())
    fp = int(((predicted == 1) & (labels == 0)).sum())
    fn = int(((predicted == 0) & (labels == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "auc": auc(labels, scores),
        "accuracy": (tp + tn) / len(labels),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_positive_rate": recall,
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
        "threshold": threshold,
        "count": len(labels),
    }
