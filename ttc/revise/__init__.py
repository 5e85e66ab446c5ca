"""Revisions: sequential revision chains of a reviser in parallel, and answer selection over
them (hierarchical ORM best-of-N weighted, flat majority). The `revision` strategy has
ttc/search's signature and records; ttc/strategies.py registers it, to run on the reviser and
its ORM."""

from __future__ import annotations

from ttc.revise.budget import ratio_of, split_budget
from ttc.revise.chains import RevisionConfig, revision, sample_chains, score_chains
from ttc.revise.records import Attempt, ChainSet, chain_records, read_chain_sets
from ttc.revise.selection import accuracy, choose

__all__ = [
    "RevisionConfig",
    "revision",
    "sample_chains",
    "score_chains",
    "Attempt",
    "ChainSet",
    "chain_records",
    "read_chain_sets",
    "accuracy",
    "choose",
    "split_budget",
    "ratio_of",
]
