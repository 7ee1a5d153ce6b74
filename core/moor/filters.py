"""Docker's ``filters`` values shared by several list and prune endpoints."""

from __future__ import annotations


def labels_match(labels: dict[str, str], filters: dict[str, list[str]]) -> bool:
    """``label=key``, ``label=key=value`` must match; ``label!=...`` must not."""
    for wanted in filters.get("label", []):
        key, sep, value = wanted.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    for unwanted in filters.get("label!", []):
        key, sep, value = unwanted.partition("=")
        if key in labels and (not sep or labels[key] == value):
            return False
    return True
