"""Sentences a person reads about a decomposition: which SVD is being shown, and how close it is."""

from __future__ import annotations


def describe(dec) -> str:
    """One short line for the UI and the CLI's notes: which decomposition is being shown.

    dec is a core.svd.Decomposition (not imported here: that would load the SVD module early).
    """
    where = "" if dec.device == "cpu" else f" on {dec.device}"
    if dec.exact:
        return f"exact SVD{where}"
    if dec.method == "exact":
        return f"exact SVD{where}, top {dec.max_rank} ranks kept"
    first = "first pass: " if dec.next_ranks > dec.max_rank else ""
    return (f"{first}randomized top-{dec.max_rank} SVD{where} "
            f"(est. within {max(dec.accuracy_db, 0.01):.2f} dB of exact)")
