"""A ranked product from the offer model, as the decision core receives it (pure data)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, overload


class Candidate(NamedTuple):
    """One ranked product: ``score`` estimates P(it joins the basket); ``together`` is the largest
    share of past baskets holding one of the current basket's products that also held it (0 if
    not known with enough support). A named tuple: built by the thousand per second."""

    product_id: str
    score: float
    together: float = 0.0


class CandidateList(Sequence[Candidate]):
    """The model's candidates, best first, kept as three parallel columns.

    Reads like a list of :class:`Candidate` (index, slice, iterate, compare with a list); the
    decision core reads the columns directly, so no per-candidate object is built on the hot path.
    A list made by the model (:meth:`indexed`) also keeps the model's item indices and item table,
    and turns indices into product ids only when ``ids`` is first read. The columns must not be
    changed after construction.
    """

    __slots__ = ("_ids", "basket", "items", "names", "scores", "together")

    def __init__(self, ids: list[str], scores: list[float], together: list[float]) -> None:
        if not len(ids) == len(scores) == len(together):
            raise ValueError(f"columns differ in length: {len(ids)}, {len(scores)}, {len(together)}")
        self._ids: list[str] | None = ids
        self.basket: tuple[str, ...] | None = None
        self.items: list[int] | None = None
        self.names: tuple[str, ...] = ()
        self.scores = scores
        self.together = together

    @classmethod
    def indexed(
        cls,
        items: list[int],
        names: tuple[str, ...],
        scores: list[float],
        together: list[float],
        basket: tuple[str, ...] | None = None,
    ) -> CandidateList:
        """Candidates as the model's item indices into ``names`` (its item table), unique, best
        first; ``basket``: the basket the model left out, if it did (none of its products is here)."""
        if not len(items) == len(scores) == len(together):
            raise ValueError(f"columns differ in length: {len(items)}, {len(scores)}, {len(together)}")
        self = cls.__new__(cls)
        self._ids = None
        self.basket = basket
        self.items = items
        self.names = names
        self.scores = scores
        self.together = together
        return self

    @property
    def ids(self) -> list[str]:
        """Product ids, best first."""
        ids = self._ids
        if ids is None:
            names = self.names
            ids = self._ids = [names[i] for i in self.items or ()]
        return ids

    def __len__(self) -> int:
        return len(self.scores)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...

    @overload
    def __getitem__(self, index: slice) -> CandidateList: ...

    def __getitem__(self, index: int | slice) -> Candidate | CandidateList:
        if isinstance(index, slice):
            if self.items is not None:
                return CandidateList.indexed(
                    self.items[index], self.names, self.scores[index], self.together[index], self.basket
                )
            return CandidateList(self.ids[index], self.scores[index], self.together[index])
        return Candidate(self.ids[index], self.scores[index], self.together[index])

    def __iter__(self) -> Iterator[Candidate]:
        return map(Candidate, self.ids, self.scores, self.together)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CandidateList):
            return (self.ids, self.scores, self.together) == (other.ids, other.scores, other.together)
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking like a list: not hashable

    def __repr__(self) -> str:
        return f"CandidateList({list(self)!r})"


def columns(candidates: Sequence[Candidate | str], n: int) -> tuple[list[str], list[float], list[float]]:
    """The first ``n`` candidates as (ids, scores, together); a bare id scores 1 / (rank + 2)."""
    if isinstance(candidates, CandidateList):
        if len(candidates) > n:
            return candidates.ids[:n], candidates.scores[:n], candidates.together[:n]
        return candidates.ids, candidates.scores, candidates.together
    ids, scores, together = [], [], []
    for rank, raw in enumerate(candidates[:n]):
        cand = raw if isinstance(raw, Candidate) else Candidate(raw, 1.0 / (rank + 2))
        ids.append(cand.product_id)
        scores.append(cand.score)
        together.append(cand.together)
    return ids, scores, together
