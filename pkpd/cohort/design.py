"""A cohort whose subjects come from a dataset: each subject's regimen, covariates and the output times.

:class:`SubjectDesign` is what a NONMEM-style dataset (:mod:`pkpd.dataset`) gives a cohort: subject k of the run
is the dataset's k-th ID (file order), with its own doses and, where the dataset has them, its body weight and
sex (the population's distributions fill in the others); inter-individual variability of the PK parameters is
still drawn from (seed, k). The observation times of all subjects (EVID 0 and 2 rows) together are the run's
output grid.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..dosing import Regimen

__all__ = ["SubjectDesign", "regimen_manifest"]


def regimen_manifest(regimen: Regimen) -> list[dict]:
    """A JSON-able list of a regimen's doses (time h, amount, unit, route, duration h, salt)."""
    return [{"time_h": d.time_h, "amount": d.amount.value, "unit": d.amount.unit, "route": d.route,
             "duration_h": d.duration_h, "salt": d.salt} for d in regimen]


@dataclass(frozen=True, eq=False)
class SubjectDesign:
    """Per-subject regimens and covariates and the output times of a cohort.

    Attributes
    ----------
    ids : tuple of str
        The dataset's ID of each subject (subject k of the run is ``ids[k]``).
    regimens : tuple of Regimen
        Each subject's doses, times in h from the start of the run.
    weight_kg : ndarray, shape (n,)
        Body weight, kg; NaN where the population's distribution draws it.
    sex : tuple of str or None
        ``"male"``, ``"female"`` or None (drawn).
    times_h : ndarray, shape (T,)
        Output times, h, increasing, >= 0.
    source : str
        Where the design came from (a file name), for the manifest.
    distinct_regimens : tuple of Regimen
        The different regimens, in order of first appearance (set on construction).
    """

    ids: tuple
    regimens: tuple
    weight_kg: np.ndarray
    sex: tuple
    times_h: np.ndarray
    source: str = "dataset"

    def __post_init__(self):
        n = len(self.ids)
        if n == 0:
            raise ValueError(f"{self.source}: no subjects")
        if not (len(self.regimens) == len(self.sex) == np.shape(self.weight_kg)[0] == n):
            raise ValueError("design: expected one regimen, weight and sex per subject")
        t = np.asarray(self.times_h, float)
        if t.ndim != 1 or t.size == 0:
            raise ValueError(f"{self.source}: no observation rows (EVID 0 or 2) to set the output times")
        if (t < 0).any() or (np.diff(t) <= 0).any():
            raise ValueError("design: output times must be >= 0 and increasing")
        object.__setattr__(self, "times_h", t)
        object.__setattr__(self, "weight_kg", np.asarray(self.weight_kg, float))
        # per subject, computed once: the index of its regimen among the distinct ones, and its sex as arrays
        index: dict = {}
        group = np.empty(n, np.int64)
        for i, reg in enumerate(self.regimens):
            key = tuple((d.time_h, d.amount.value, d.amount.unit, d.route, d.duration_h, d.salt) for d in reg)
            group[i] = index.setdefault(key, len(index))
        distinct = [None] * len(index)
        for i, g in enumerate(group.tolist()):
            if distinct[g] is None:
                distinct[g] = self.regimens[i]
        object.__setattr__(self, "_group", group)
        object.__setattr__(self, "distinct_regimens", tuple(distinct))
        object.__setattr__(self, "_sex_given", np.array([x is not None for x in self.sex], bool))
        object.__setattr__(self, "_female", np.array([x == "female" for x in self.sex], bool))

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def end_h(self) -> float:
        """The last output time or dose start, h (the simulated time)."""
        return float(max(self.times_h[-1], max(max((d.time_h for d in r), default=0.0) for r in self.regimens)))

    @classmethod
    def from_dataset(cls, data) -> "SubjectDesign":
        """The design of a :class:`pkpd.dataset.Dataset`.

        Raises
        ------
        ValueError
            Naming the ID and column of a subject whose dosing is not one stretch from time 0 (steady state, SS,
            or a reset, EVID 3/4: simulate those with ``ketamine pk --data``), or if no row sets an output time.
        """
        regimens, weights, sex, times = [], [], [], []
        for s in data.subjects:
            start, kind, reg, _ = s.segments[-1]
            if len(s.segments) != 1 or kind != "zero":
                col = "SS" if any(k.startswith("ss") for _, k, _, _ in s.segments) else "EVID"
                raise ValueError(f"{data.source}, ID {s.id}, column {col!r}: "
                                 f"{'steady state' if col == 'SS' else 'a reset (EVID 3/4)'} is not supported "
                                 "in a cohort (one stretch of doses from time 0 per subject); ketamine pk --data "
                                 "simulates it")
            regimens.append(reg)
            weights.append(np.nan if s.weight_kg is None else s.weight_kg)
            sex.append(s.sex)
            times.append(s.times_h)
        t = np.unique(np.concatenate(times)) if times else np.zeros(0)
        return cls(tuple(s.id for s in data.subjects), tuple(regimens), np.array(weights, float), tuple(sex), t,
                   data.source)

    def groups(self, ids: np.ndarray) -> list[tuple[Regimen, np.ndarray]]:
        """The subjects ``ids`` (run ids) grouped by identical regimen: ``[(regimen, positions in ids), …]``,
        in order of first appearance in ``ids``."""
        g = self._group[np.asarray(ids, dtype=np.int64)]
        _, first = np.unique(g, return_index=True)
        return [(self.distinct_regimens[g[j]], np.flatnonzero(g == g[j])) for j in np.sort(first)]

    def apply(self, sample: dict) -> dict:
        """A population sample with the dataset's covariates in place of the drawn ones where it has them, and
        the dataset's ``ID`` column."""
        ids = np.asarray(sample["id"], dtype=np.int64)
        out = dict(sample)
        w = self.weight_kg[ids]
        out["weight_kg"] = np.where(np.isnan(w), sample["weight_kg"], w)
        out["female"] = np.where(self._sex_given[ids], self._female[ids], sample["female"])
        out["ID"] = np.array([self.ids[i] for i in ids.tolist()], dtype=object)
        return out

    def digest(self) -> str:
        """SHA-256 of everything the design holds (what a resumed run must match)."""
        from ..io import dumps_json

        doc = {"ids": list(self.ids), "regimens": [regimen_manifest(r) for r in self.regimens],
               "weight_kg": [None if np.isnan(w) else float(w) for w in self.weight_kg], "sex": list(self.sex),
               "times_h": self.times_h.tolist()}
        return hashlib.sha256(dumps_json(doc, sort_keys=True).encode()).hexdigest()

    def manifest(self) -> dict:
        return {"source": self.source, "subjects": self.n, "n_times": int(self.times_h.size),
                "sha256": self.digest()}
