"""PK readouts of a parameter matrix, for global sensitivity (:mod:`pkpd.sensitivity`).

The readouts are the dotted keys of the exposure summary that ``ketamine pk --summary`` prints
(:func:`pkpd.exposure.summarize`), e.g. ``plasma_ketamine.cmax_uM`` or ``nmda_occupancy_interneuron.peak``. The
parameters are the named parameters of the PK set (:func:`pkpd.overrides.pk_space`).

A block of samples is solved in one batched engine call (:func:`pkpd.ode.solve`, one parameter row and one
dose schedule per sample, both built by the same functions as :func:`pkpd.pk.simulate_pk`). The peak, its time
and the area of every curve (``cmax_uM``, ``tmax_h``, ``auc_0_t_uM_h``, ``cmax_ng_per_ml``,
``auc_0_t_ng_h_per_ml``; occupancy ``peak``, ``t_peak_h``, ``area_h``) are then read for the whole block at once
on the quadrature grid of the exposure summary (:func:`pkpd.exposure.quadrature_grid`, :func:`pkpd.exposure.batch_metrics`:
the same areas as ``--summary``, peaks within 1e-5 and their times within 2e-4 h); every other key (half-life,
AUC to infinity, time above a threshold, ratios) comes from :func:`pkpd.pk.simulate_pk` and its summary, one sample
at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["PkReadouts"]

_CONC = ("plasma_ketamine", "brain_ketamine", "brain_free_ketamine", "plasma_norketamine", "brain_norketamine",
         "brain_free_norketamine")
_OCC = ("nmda_occupancy_interneuron", "nmda_occupancy_pyramidal")


class PkReadouts:
    """The PK model of one subject and regimen as a function of named parameters.

    Parameters
    ----------
    regimen : Regimen
    duration_h : float
    species, pk_model, weight_kg, sex, salt, drug
        As :func:`pkpd.pk.simulate_pk`.
    params : mapping, optional
        Fixed overrides applied to every sample (the factors of a sensitivity run are applied on top).
    rtol : float
        Relative tolerance of the batched engine solve (as :func:`pkpd.pk.simulate_pk`'s engine backend).

    Raises
    ------
    ValueError
        For bad input, before any sample is solved (the typical subject is simulated once to list the readouts).
    """

    def __init__(self, regimen, duration_h: float, *, species: str = "mouse", pk_model: str | None = None,
                 weight_kg: float | None = None, sex: str = "male", salt: str | None = None,
                 drug: str | None = None, params: Mapping | None = None, rtol: float = 1e-8):
        from .exposure import quadrature_grid
        from .overrides import pk_space
        from .pk import simulate_pk
        from .pk_models import get_pk_model
        from .species import Subject

        self.subject = Subject(species, weight_kg, sex)
        self.model = get_pk_model(pk_model, self.subject.species)
        self.space = pk_space(self.model)
        self.fixed = self.space.resolve(params)
        self.regimen, self.duration_h, self.salt, self.rtol = regimen, float(duration_h), salt, rtol
        self.kw = dict(species=species, pk_model=pk_model, weight_kg=weight_kg, sex=sex, salt=salt, drug=drug)
        typical = simulate_pk(regimen, duration_h, params=self.fixed, **self.kw)
        self.drug = typical.metadata["drug"]
        # the exposure summary's quadrature grid: the regimen's events are the same for every sample
        self.breaks = typical.breaks_h
        self.t, self.w = quadrature_grid(self.breaks, self.duration_h)
        self.typical_summary = typical.summary()

    def available(self) -> list[str]:
        """Every readout (dotted key of the PK summary)."""
        from .sensitivity import readout_keys

        skip = ("weight_kg", "duration_h")  # inputs, not readouts
        return [k for k in readout_keys(self.typical_summary) if k not in skip]

    def info(self) -> dict:
        """What determines the outputs besides the factors (recorded in a sensitivity run's manifest)."""
        return {"kind": "pk", "pk_model": self.model.name, "species": self.subject.species,
                "weight_kg": self.subject.weight_kg, "sex": self.subject.sex, "drug": self.drug,
                "duration_h": self.duration_h, "doses": self.typical_summary["doses"],
                "overrides": self.space.record(self.fixed)}

    def _row(self, values: Mapping[str, float]):
        from .overrides import apply_pk
        from .pk import dose_schedule, ketamine_system, parameter_values, parameter_vector
        from .receptor import NmdaParams

        model, nmda = apply_pk(self.model, NmdaParams(), values, self.space)
        p = parameter_vector(ketamine_system(False), parameter_values(model, self.subject, drug=self.drug, nmda=nmda))
        sched, records = dose_schedule(model, self.subject, self.regimen, salt=self.salt)
        return p, sched, sum(r["base_umol"] for r in records)

    def model_function(self, factor_names: Sequence[str], readouts: Sequence[str]):
        """``f(X) -> Y`` for :func:`pkpd.sensitivity.run_sensitivity`: ``X`` (S, D) in the factors' units, ``Y``
        (S, len(readouts)); NaN where a sample's parameters are rejected by the model or the solve fails."""
        from .sensitivity import check_readouts

        names = [self.space.canonical(n) for n in factor_names]
        readouts = check_readouts(readouts, self.available())
        fast = {r for r in readouts if _fast_key(r)}

        def f(X: np.ndarray) -> np.ndarray:
            X = np.asarray(X, float)
            S = X.shape[0]
            Y = np.full((S, len(readouts)), np.nan)
            rows = [{**self.fixed, **dict(zip(names, map(float, x)))} for x in X]
            if fast:
                self._fast(rows, readouts, Y)
            slow = [j for j, r in enumerate(readouts) if r not in fast]
            if slow:
                from .pk import simulate_pk
                from .sensitivity import lookup

                for i, row in enumerate(rows):
                    try:
                        s = simulate_pk(self.regimen, self.duration_h, params=row, **self.kw).summary()
                    except (ValueError, RuntimeError):
                        continue
                    for j in slow:
                        Y[i, j] = lookup(s, readouts[j])
            return Y

        return f

    def _fast(self, rows, readouts, Y) -> None:
        from .exposure import batch_metrics
        from .ode import solve
        from .pk import ketamine_system
        from .units import MOLAR_MASS_G_PER_MOL

        system = ketamine_system(False)
        ok, P, scheds, dose = [], [], [], []
        for i, row in enumerate(rows):
            try:
                p, sched, d = self._row(row)
            except ValueError:  # a combination the model rejects (e.g. a brain volume above the central volume)
                continue
            ok.append(i)
            P.append(p)
            scheds.append(sched)
            dose.append(d)
        if not ok:
            return
        # absolute tolerance as simulate_pk's engine backend: 1e-12 of the (largest) dose, per state
        atol = np.full(system.n_states, 1e-12 * max(dose))
        sol = solve(system, np.zeros(system.n_states), self.t, np.array(P), schedule=scheds, rtol=self.rtol,
                    atol=atol, method="auto")
        good = np.asarray(sol.status) == 0
        ok = np.asarray(ok)
        metrics = {}
        for name in _CONC:
            cmax, tmax, area = batch_metrics(self.t, self.w, sol.observables[f"{name}_uM"], self.breaks)
            metrics.update({f"{name}.cmax_uM": cmax, f"{name}.tmax_h": tmax, f"{name}.auc_0_t_uM_h": area})
        mw = MOLAR_MASS_G_PER_MOL["ketamine"]
        metrics["plasma_ketamine.cmax_ng_per_ml"] = metrics["plasma_ketamine.cmax_uM"] * mw
        metrics["plasma_ketamine.auc_0_t_ng_h_per_ml"] = metrics["plasma_ketamine.auc_0_t_uM_h"] * mw
        for name in _OCC:
            peak, tpeak, area = batch_metrics(self.t, self.w, sol.observables[name], self.breaks)
            metrics.update({f"{name}.peak": peak, f"{name}.t_peak_h": tpeak, f"{name}.area_h": area})
        for j, r in enumerate(readouts):
            if r in metrics:
                Y[ok[good], j] = metrics[r][good]


def _fast_key(key: str) -> bool:
    group, _, metric = key.partition(".")
    if group in _CONC:
        return metric in ("cmax_uM", "tmax_h", "auc_0_t_uM_h") or (
            group == "plasma_ketamine" and metric in ("cmax_ng_per_ml", "auc_0_t_ng_h_per_ml"))
    return group in _OCC and metric in ("peak", "t_peak_h", "area_h")
