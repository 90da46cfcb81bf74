"""Ketamine and norketamine pharmacokinetics in plasma and brain, as one compartment graph, and
:func:`simulate_pk`, which turns a regimen into a labelled table of concentrations and NMDA occupancy.

The graph (amounts in µmol of free base; time in hours; rate constants in 1/h)::

    depot_ip ─┐            ┌─ peripheral1                 nor_peripheral
    depot_sc ─┤            ├─ peripheral2                       │
    depot_im ─┼─→ central ─┼─ brain (kp, perfusion-limited)  nor_central ─ nor_brain
    depot_nasal┘     │  ▲  └─→ eliminated                       │
    gut ──────────→ liver (hepato-portal) ─→ nor_central ────→ nor_eliminated
    gut_swallowed ─↗

* Every depot drains first-order to ``central`` (systemic fraction), ``liver`` (hepato-portal), ``nor_central``
  (presystemic metabolism) and ``eliminated`` (the rest).
* ``central`` exchanges with two peripheral compartments, the hepato-portal compartment and the brain; its
  clearance splits into formation of norketamine (fraction ``fm``) and other elimination.
* The brain is perfusion-limited: uptake clearance = brain blood flow ``Q_b``; ``dA_b/dt = Q_b (C_p − C_b/kp)``,
  so the brain:plasma AUC ratio equals ``kp`` exactly. The free brain concentration is ``fu_p/kp × C_b``
  (unbound partition Kp,uu = 1 assumed for a passively diffusing lipophilic base).
* Norketamine has a central, a peripheral and a brain compartment of its own.
* ``eliminated`` and ``nor_eliminated`` are sinks, so the sum of all states equals the amount dosed so far
  (mass balance).

Every lumped parameter set of :mod:`pkpd.pk_models` is a parameterisation of this one graph (absent compartments
get zero flows), so a single compiled system serves mouse and human, every route and every published set. The graph
is the single symbolic source of the ODEs: see :func:`ketamine_graph` and :func:`ketamine_system`.

An enantiomer-resolved set (``model.resolved``, e.g. ``hasan2021``) runs on :func:`enantiomer_graph`: two chains
of the same shape (S and R, states ``s_*`` and ``r_*``, built by the same :func:`_add_chain`), each extended by
its (2,6)-hydroxynorketamine, a dose split between them by the S fraction of the drug, occupancy from the four
free concentrations, and the lumped columns as sums S + R.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy

from . import __version__
from .compartments import CompartmentGraph
from .dosing import Regimen
from .parameters import is_finite_real
from .pk_models import ENANTIOMERS, PK_MODELS, PkModel, get_pk_model
from .receptor import NmdaParams, competitive_occupancy, occupancy_drive, trapping_rate
from .species import Subject, get_species
from .units import dose_to_umol, format_hours, parse_salt, uM_to_ng_per_mL, umol_to_mg

__all__ = ["DEPOTS", "KETAMINE_STATES", "NORKETAMINE_STATES", "SINKS", "TABLE_COLUMNS", "COLUMN_UNITS",
           "ENANTIOMER_COLUMNS", "ENANTIOMER_PREFIXES", "ketamine_graph", "enantiomer_graph", "ketamine_system",
           "parameter_values", "parameter_vector", "dose_schedule", "check_columns", "default_time_grid",
           "PkResult", "simulate_pk", "BACKENDS"]

DEPOTS = ("depot_ip", "depot_sc", "depot_im", "depot_nasal", "gut", "gut_swallowed")
KETAMINE_STATES = ("central", "peripheral1", "peripheral2", "liver", "brain")
NORKETAMINE_STATES = ("nor_central", "nor_peripheral", "nor_brain")
SINKS = ("eliminated", "nor_eliminated")
#: State and parameter prefixes of the two chains of :func:`enantiomer_graph`.
ENANTIOMER_PREFIXES = ("s_", "r_")
TRAPPING_STATES = ("trapped_interneuron", "trapped_pyramidal")
BACKENDS = ("auto", "exact", "engine", "scipy")

#: The columns of the PK table written by ``ketamine pk``, in order.
TABLE_COLUMNS = ("time_h", "plasma_ketamine_uM", "brain_ketamine_uM", "plasma_norketamine_uM",
                 "brain_norketamine_uM", "plasma_ketamine_ng_per_ml", "nmda_occupancy_interneuron",
                 "nmda_occupancy_pyramidal")
#: The further columns of an enantiomer-resolved set (S and R apart, and the (2,6)-hydroxynorketamines).
ENANTIOMER_COLUMNS = ("plasma_s_ketamine_uM", "plasma_r_ketamine_uM", "brain_s_ketamine_uM", "brain_r_ketamine_uM",
                      "plasma_s_norketamine_uM", "plasma_r_norketamine_uM", "brain_s_norketamine_uM",
                      "brain_r_norketamine_uM", "brain_free_s_ketamine_uM", "brain_free_r_ketamine_uM",
                      "brain_free_s_norketamine_uM", "brain_free_r_norketamine_uM",
                      "plasma_2s6s_hydroxynorketamine_uM", "plasma_2r6r_hydroxynorketamine_uM")
#: Unit of every column a :class:`PkResult` holds.
COLUMN_UNITS = {"time_h": "h", "plasma_ketamine_uM": "uM", "brain_ketamine_uM": "uM",
                "plasma_norketamine_uM": "uM", "brain_norketamine_uM": "uM", "plasma_ketamine_ng_per_ml": "ng/mL",
                "plasma_norketamine_ng_per_ml": "ng/mL", "brain_free_ketamine_uM": "uM",
                "brain_free_norketamine_uM": "uM", "nmda_occupancy_interneuron": "1",
                "nmda_occupancy_pyramidal": "1"} | {c: "uM" for c in ENANTIOMER_COLUMNS}

_S = sympy.Symbol


def _add_chain(g: CompartmentGraph, p: str = "", hnk: bool = False) -> CompartmentGraph:
    """Add one ketamine → norketamine (→ hydroxynorketamine) chain: state names and parameter names prefixed by
    ``p`` (``""`` for the lumped racemate, ``"s_"``/``"r_"`` for an enantiomer)."""
    def k(src, dst):
        return _S(f"{p}k_{src}_{dst}")

    for d in DEPOTS:
        g = g.add_compartment(p + d, "depot", f"absorption depot ({p}{d})")
    g = (g.add_compartment(p + "central", "central", "ketamine in plasma and rapidly equilibrating tissue")
         .add_compartment(p + "peripheral1", "peripheral").add_compartment(p + "peripheral2", "peripheral")
         .add_compartment(p + "liver", "tissue", "hepato-portal compartment")
         .add_compartment(p + "brain", "tissue", "brain tissue (total ketamine)")
         .add_compartment(p + "nor_central", "central", "norketamine, central")
         .add_compartment(p + "nor_peripheral", "peripheral").add_compartment(p + "nor_brain", "tissue")
         .add_compartment(p + "eliminated", "sink", "ketamine eliminated other than to norketamine")
         .add_compartment(p + "nor_eliminated", "sink", "norketamine eliminated" + (" other than to (2,6)-HNK"
                                                                                      if hnk else "")))
    if hnk:
        g = (g.add_compartment(p + "hnk_central", "central", "(2,6)-hydroxynorketamine, plasma")
             .add_compartment(p + "hnk_eliminated", "sink", "(2,6)-hydroxynorketamine eliminated"))
    for d in DEPOTS:
        for dst in ("central", "liver", "nor_central", "eliminated"):
            g = g.add_flow(p + d, p + dst, k(d, dst))
    for a, b in (("central", "peripheral1"), ("central", "peripheral2"), ("central", "liver"), ("central", "brain"),
                 ("nor_central", "nor_peripheral"), ("nor_central", "nor_brain")):
        g = g.add_flow(p + a, p + b, k(a, b)).add_flow(p + b, p + a, k(b, a))
    chain = [("central", "nor_central", "N-demethylation"), ("central", "eliminated", "other clearance"),
             ("liver", "nor_central", "hepatic N-demethylation"), ("liver", "eliminated", "hepatic other metabolism"),
             ("nor_central", "nor_eliminated", "norketamine clearance")]
    if hnk:
        chain += [("nor_central", "hnk_central", "6-hydroxylation"), ("hnk_central", "hnk_eliminated",
                                                                       "hydroxynorketamine clearance")]
    for a, b, what in chain:
        g = g.add_flow(p + a, p + b, k(a, b), what)
    return g


def _occupancy(g: CompartmentGraph, x_int, x_pyr, trapping: bool) -> CompartmentGraph:
    """Occupancy observables (and the trapping states) from the drives of interneurons and pyramidal cells."""
    if trapping:
        k_on, k_off = _S("trap_k_on_per_h"), _S("trap_k_off_per_h")
        bi, bp = _S("trapped_interneuron"), _S("trapped_pyramidal")
        return (g.add_state(bi, trapping_rate(bi, x_int, k_on, k_off))
                .add_state(bp, trapping_rate(bp, x_pyr, k_on, k_off))
                .add_observable("nmda_occupancy_interneuron", bi).add_observable("nmda_occupancy_pyramidal", bp)
                .add_observable("nmda_equilibrium_occupancy_interneuron", competitive_occupancy(x_int))
                .add_observable("nmda_equilibrium_occupancy_pyramidal", competitive_occupancy(x_pyr)))
    return (g.add_observable("nmda_occupancy_interneuron", competitive_occupancy(x_int))
            .add_observable("nmda_occupancy_pyramidal", competitive_occupancy(x_pyr)))


_KI = ("ki_s_ketamine_uM", "ki_r_ketamine_uM", "ki_s_norketamine_uM", "ki_r_norketamine_uM")


def ketamine_graph(trapping: bool = False) -> CompartmentGraph:
    """The compartment graph of ketamine and norketamine (see the module docstring).

    Parameters
    ----------
    trapping : bool
        Add the two receptor-trapping states (fraction of NMDA receptors blocked in interneurons and pyramidal
        cells; :func:`pkpd.receptor.trapping_rate`); the occupancy observables then report those states.
    """
    g = _add_chain(CompartmentGraph())
    vc, vb, vnc = _S("v_central_L"), _S("v_brain_L"), _S("v_nor_central_L")
    fu_b, fu_nb = _S("fu_brain"), _S("fu_nor_brain")
    c_free_ket = fu_b * _S("brain") / vb
    c_free_nor = fu_nb * _S("nor_brain") / vb
    s, ratio = _S("s_fraction"), _S("interneuron_potency_ratio")
    ki = [_S(n) for n in _KI]
    x_pyr = occupancy_drive(c_free_ket, c_free_nor, s, *ki)
    x_int = occupancy_drive(c_free_ket, c_free_nor, s, *[k / ratio for k in ki])
    g = (g.add_observable("plasma_ketamine_uM", _S("central") / vc)
         .add_observable("brain_ketamine_uM", _S("brain") / vb)
         .add_observable("plasma_norketamine_uM", _S("nor_central") / vnc)
         .add_observable("brain_norketamine_uM", _S("nor_brain") / vb)
         .add_observable("brain_free_ketamine_uM", c_free_ket)
         .add_observable("brain_free_norketamine_uM", c_free_nor))
    return _occupancy(g, x_int, x_pyr, trapping)


def enantiomer_graph(trapping: bool = False) -> CompartmentGraph:
    """The enantiomer-resolved graph: two chains of :func:`ketamine_graph`'s shape, S (states ``s_*``) and R
    (``r_*``), each extended by its (2,6)-hydroxynorketamine (``hnk_central`` → ``hnk_eliminated``); parameters
    prefixed likewise (``s_k_central_peripheral1``, ``r_v_central_L``, …). There is no chiral inversion, so the
    chains share nothing but the brain volume and the receptor: NMDA occupancy is driven by the four free brain
    concentrations, ``x = C_S/K_S + C_R/K_R + C_SN/K_SN + C_RN/K_RN`` (:mod:`pkpd.receptor`); the
    hydroxynorketamines do not bind at their concentrations. The lumped observables (``plasma_ketamine_uM`` …) are
    the sums S + R, so the columns of :data:`TABLE_COLUMNS` mean what they mean for a lumped set.
    """
    g = CompartmentGraph()
    for p in ENANTIOMER_PREFIXES:
        g = _add_chain(g, p, hnk=True)
    vb = _S("v_brain_L")
    ratio = _S("interneuron_potency_ratio")
    ki = [_S(n) for n in _KI]
    conc: dict[str, dict[str, sympy.Expr]] = {}
    for p in ENANTIOMER_PREFIXES:
        conc[p] = {"plasma_ketamine": _S(p + "central") / _S(p + "v_central_L"),
                   "brain_ketamine": _S(p + "brain") / vb,
                   "plasma_norketamine": _S(p + "nor_central") / _S(p + "v_nor_central_L"),
                   "brain_norketamine": _S(p + "nor_brain") / vb,
                   "brain_free_ketamine": _S(p + "fu_brain") * _S(p + "brain") / vb,
                   "brain_free_norketamine": _S(p + "fu_nor_brain") * _S(p + "nor_brain") / vb}
    for name in conc["s_"]:
        g = g.add_observable(f"{name}_uM", conc["s_"][name] + conc["r_"][name])
    for p, e in zip(ENANTIOMER_PREFIXES, ("s", "r")):
        for name, expr in conc[p].items():
            where, what = name.rsplit("_", 1)
            g = g.add_observable(f"{where}_{e}_{what}_uM", expr)
    g = (g.add_observable("plasma_2s6s_hydroxynorketamine_uM", _S("s_hnk_central") / _S("s_v_hnk_L"))
         .add_observable("plasma_2r6r_hydroxynorketamine_uM", _S("r_hnk_central") / _S("r_v_hnk_L")))
    s_ket, r_ket = (conc[p]["brain_free_ketamine"] for p in ENANTIOMER_PREFIXES)
    s_nor, r_nor = (conc[p]["brain_free_norketamine"] for p in ENANTIOMER_PREFIXES)

    def drive(k):  # S part with s = 1, R part with s = 0: x = C_S/K_S + C_SN/K_SN + C_R/K_R + C_RN/K_RN
        return occupancy_drive(s_ket, s_nor, 1, *k) + occupancy_drive(r_ket, r_nor, 0, *k)

    return _occupancy(g, drive([k / ratio for k in ki]), drive(ki), trapping)


@functools.lru_cache(maxsize=None)
def ketamine_system(trapping: bool = False, resolved: bool = False):
    """The :class:`~pkpd.ode.OdeSystem` generated from :func:`ketamine_graph`, or with ``resolved`` from
    :func:`enantiomer_graph` (cached per process)."""
    if resolved:
        return enantiomer_graph(trapping).to_ode_system("ketamine_chiral_pk_trapping" if trapping
                                                        else "ketamine_chiral_pk")
    return ketamine_graph(trapping).to_ode_system("ketamine_pk_trapping" if trapping else "ketamine_pk")


def parameter_values(model: PkModel, subject: Subject, *, drug: str | None = None,
                     nmda: NmdaParams = NmdaParams()) -> dict[str, float]:
    """Values of the graph's parameters for one subject (rate constants 1/h, volumes L, fractions, Ki µM): of
    :func:`ketamine_graph`, or of :func:`enantiomer_graph` for an enantiomer-resolved set (``model.resolved``)."""
    drug = model.check_enantiomer(drug)
    if model.resolved:
        values = {}
        for p, e in zip(ENANTIOMER_PREFIXES, ("s", "r")):
            rates = dict(model.enantiomer_disposition(subject, e).rates())
            hnk = model.hnk(subject, e)
            k_nor_out = rates.pop("k_nor_central_nor_eliminated")
            rates["k_nor_central_nor_eliminated"] = (1.0 - hnk.f_formation) * k_nor_out
            rates["k_nor_central_hnk_central"] = hnk.f_formation * k_nor_out
            rates["k_hnk_central_hnk_eliminated"] = hnk.cl_L_per_h / hnk.v_L
            rates["v_hnk_L"] = hnk.v_L
            values["v_brain_L"] = rates.pop("v_brain_L")
            values.update({p + k: v for k, v in rates.items()})
            for depot, a in model.depot_absorption().items():
                for dst, k in a.rates().items():
                    values[f"{p}k_{depot}_{dst}"] = k
    else:
        values = dict(model.disposition(subject).rates())
        for depot, a in model.depot_absorption().items():
            for dst, k in a.rates().items():
                values[f"k_{depot}_{dst}"] = k
        values["s_fraction"] = ENANTIOMERS[drug]
    values.update(ki_s_ketamine_uM=nmda.ki_s_ketamine_uM,
                  ki_r_ketamine_uM=nmda.ki_r_ketamine_uM, ki_s_norketamine_uM=nmda.ki_s_norketamine_uM,
                  ki_r_norketamine_uM=nmda.ki_r_norketamine_uM,
                  interneuron_potency_ratio=nmda.interneuron_potency_ratio, trap_k_on_per_h=nmda.trap_k_on_per_h,
                  trap_k_off_per_h=nmda.trap_k_off_per_h)
    return values


def parameter_vector(system, values: Mapping[str, float]) -> np.ndarray:
    """Pack ``values`` in the order of ``system.params``; absent flow constants (``k_*``) are 0."""
    out = np.empty(system.n_params)
    for i, name in enumerate(system.param_names):
        if name in values:
            out[i] = values[name]
        elif name.startswith(("k_", "s_k_", "r_k_")):
            out[i] = 0.0
        elif "s_v_central_L" in values:
            raise ValueError("pk-model: an enantiomer-resolved set (S and R apart) runs in the PK simulation only "
                             "(simulate_pk, `ketamine pk`); expected a lumped set here")
        else:
            raise ValueError(f"parameter {name!r} has no value")
    return out


def dose_schedule(model: PkModel, subject: Subject, regimen: Regimen, *, salt: str | None = None,
                  drug: str | None = None):
    """The engine :class:`~pkpd.ode.Schedule` of a regimen, and one record per dose (amounts, salt applied).

    For an enantiomer-resolved set every dose splits between the S and R chains by the S fraction of ``drug``
    (:data:`pkpd.pk_models.ENANTIOMERS`: racemic 1/2, esketamine 1, arketamine 0).

    Returns
    -------
    schedule : pkpd.ode.Schedule
    records : list of dict
        ``time_h, amount, unit, route, duration_h, salt, base_mg, base_umol`` for every dose.
    """
    from .ode import Schedule

    species = get_species(subject.species)
    default_salt = parse_salt(salt) if salt is not None else species.default_salt
    sched = Schedule()
    records = []
    if model.resolved:
        f_s = ENANTIOMERS[model.check_enantiomer(drug)]
        shares = (("s_", f_s), ("r_", 1.0 - f_s))
    else:
        shares = (("", 1.0),)
    for d in regimen:
        s = d.salt or default_salt
        umol = dose_to_umol(d.amount, weight_kg=subject.weight_kg, salt=s)
        mg_base = umol_to_mg(umol)
        for part in model.dose_parts(d.route, mg_base, d.duration_h):
            for prefix, share in shares:
                amount = umol * part.fraction * share
                if amount <= 0:
                    continue
                if part.zero_order_h > 0:
                    sched = sched.infusion(d.time_h, prefix + part.state, amount=amount,
                                           duration=part.zero_order_h)
                else:
                    sched = sched.bolus(d.time_h, prefix + part.state, amount)
        records.append({"time_h": d.time_h, "amount": d.amount.value, "unit": d.amount.unit, "route": d.route,
                        "duration_h": d.duration_h, "salt": None if d.amount.molar else s,
                        "base_mg": mg_base, "base_umol": umol})
    return sched, records


_GRID_STEPS_H = (1 / 360, 1 / 120, 1 / 60, 2 / 60, 5 / 60, 10 / 60, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0)


def default_time_grid(duration_h: float, max_points: int = 1000) -> np.ndarray:
    """A regular grid from 0 to ``duration_h`` with the finest step of 10 s, 30 s, 1, 2, 5, 10, 15, 30 min,
    1, 2, 4, 6, 12 or 24 h that keeps at most ``max_points + 1`` points (4 h → 30 s steps, 481 points)."""
    step = next((s for s in _GRID_STEPS_H if duration_h / s <= max_points), _GRID_STEPS_H[-1])
    n = int(math.floor(duration_h / step + 1e-9))
    t = np.arange(n + 1) * step
    if duration_h - t[-1] > 1e-9:
        t = np.append(t, duration_h)
    return t


@functools.lru_cache(maxsize=None)
def _observable_function(trapping: bool, resolved: bool = False):
    system = ketamine_system(trapping, resolved)
    args = [*system.states, *system.params]
    fs = {k: sympy.lambdify(args, v, "numpy") for k, v in system.observables.items()}
    return system.observable_names, fs


def _observables(trapping: bool, y: np.ndarray, p: np.ndarray, resolved: bool = False) -> dict[str, np.ndarray]:
    names, fs = _observable_function(trapping, resolved)
    cols = [y[:, i] for i in range(y.shape[1])]
    return {k: np.broadcast_to(np.asarray(fs[k](*cols, *p), float), (y.shape[0],)).copy() for k in names}


def _columns(trapping: bool, p: np.ndarray, T: np.ndarray, y: np.ndarray,
             resolved: bool = False) -> dict[str, np.ndarray]:
    """Every output column (:data:`COLUMN_UNITS`) at times ``T`` (h) from the states ``y`` (n_times, n_states) and
    the parameter vector ``p`` (with ``resolved``, also :data:`ENANTIOMER_COLUMNS`)."""
    obs = _observables(trapping, y, p, resolved)
    cols = {"time_h": T}
    for k in ("plasma_ketamine_uM", "brain_ketamine_uM", "plasma_norketamine_uM", "brain_norketamine_uM"):
        cols[k] = obs[k]
    cols["plasma_ketamine_ng_per_ml"] = uM_to_ng_per_mL(obs["plasma_ketamine_uM"], "ketamine")
    cols["nmda_occupancy_interneuron"] = obs["nmda_occupancy_interneuron"]
    cols["nmda_occupancy_pyramidal"] = obs["nmda_occupancy_pyramidal"]
    cols["plasma_norketamine_ng_per_ml"] = uM_to_ng_per_mL(obs["plasma_norketamine_uM"], "norketamine")
    cols["brain_free_ketamine_uM"] = obs["brain_free_ketamine_uM"]
    cols["brain_free_norketamine_uM"] = obs["brain_free_norketamine_uM"]
    if resolved:
        for k in ENANTIOMER_COLUMNS:
            cols[k] = obs[k]
    return cols


@dataclass(frozen=True, eq=False)
class PkResult:
    """A simulated PK profile with units and provenance.

    Attributes
    ----------
    t_h : ndarray, shape (n_times,)
        Output times, h.
    columns : mapping of str to ndarray, shape (n_times,)
        Every output column (see :data:`COLUMN_UNITS`), including :data:`TABLE_COLUMNS`.
    amounts_umol : ndarray, shape (n_times, n_states)
        State amounts (µmol; trapping states are fractions).
    state_names : tuple of str
    metadata : mapping
        species, pk_model, drug, weight_kg, sex, doses (with salt and base amounts), backend, tolerances, version.
    breaks_h : tuple of float
        Times (h) where the solution may jump or kink: dose times and infusion ends.
    solution : callable, optional
        ``solution(times) -> states (n, n_states)`` at any sorted times in ``[0, duration]``: the continuous
        solution behind :meth:`at` (the same backend and tolerances as the table).
    """

    t_h: np.ndarray
    columns: Mapping[str, np.ndarray]
    amounts_umol: np.ndarray
    state_names: tuple
    metadata: Mapping = field(default_factory=dict)
    breaks_h: tuple = ()
    solution: Callable | None = field(default=None, repr=False)
    _column_args: tuple = field(default=(), repr=False)

    @property
    def units(self) -> dict[str, str]:
        return {k: COLUMN_UNITS.get(k, "") for k in self.columns}

    @property
    def table_columns(self) -> tuple[str, ...]:
        """:data:`TABLE_COLUMNS`, then :data:`ENANTIOMER_COLUMNS` where the set resolves the enantiomers."""
        return TABLE_COLUMNS + tuple(c for c in ENANTIOMER_COLUMNS if c in self.columns)

    def table(self, names=None) -> dict[str, np.ndarray]:
        """The named columns, in order (default: :attr:`table_columns`)."""
        names = self.table_columns if names is None else names
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise ValueError(f"unknown column {missing[0]!r}; expected one of {list(self.columns)}")
        return {n: self.columns[n] for n in names}

    def state(self, name: str) -> np.ndarray:
        return self.amounts_umol[:, list(self.state_names).index(name)]

    def at(self, times) -> dict[str, np.ndarray]:
        """Every column at any ``times`` (h, sorted, within the simulated span) from the continuous solution.

        Raises
        ------
        ValueError
            If the result carries no solution (it was built from a table) or a time is out of range.
        """
        if self.solution is None:
            raise ValueError("this PkResult holds a table only; simulate_pk results carry their solution")
        ts = np.asarray(times, float)
        if ts.ndim != 1 or ts.size == 0 or ts[0] < 0 or ts[-1] > self.metadata["duration_h"] \
                or (np.diff(ts) < 0).any():
            raise ValueError(f"times: expected sorted times within [0, {self.metadata['duration_h']:g}] h")
        trapping, p, resolved = self._column_args
        return _columns(trapping, p, ts, self.solution(ts), resolved)

    def summary(self) -> dict:
        """Exposure metrics from the continuous solution, whatever the output grid (see
        :func:`pkpd.exposure.summarize`)."""
        from .exposure import summarize

        return summarize(self)


def simulate_pk(regimen: Regimen, duration_h: float, *, species: str = "mouse", pk_model: str | None = None,
                weight_kg: float | None = None, sex: str = "male", salt: str | None = None,
                drug: str | None = None, nmda: NmdaParams = NmdaParams(), trapping: bool = False,
                t_eval=None, backend: str = "auto", rtol: float = 1e-8,
                params: Mapping[str, object] | None = None, y0_umol=None,
                steady_state_h: float | None = None) -> PkResult:
    """Simulate one subject's ketamine/norketamine PK and NMDA occupancy for a regimen.

    Parameters
    ----------
    regimen : Regimen
        The doses (:mod:`pkpd.dosing`).
    duration_h : float
        Length of the simulation, h (> 0); every dose must start within it.
    species : {"mouse", "human"}
    pk_model : str, optional
        A key of :data:`pkpd.pk_models.PK_MODELS` for the species (default: ``mouse`` / ``domino1982``).
    weight_kg : float, optional
        Body weight (default 0.025 mouse, 70 human).
    sex : {"male", "female"}
    salt : {"hcl", "base"}, optional
        Form in which doses without their own salt were weighed (default: species default, HCl for the mouse).
    drug : {"racemic", "esketamine", "arketamine"}, optional
        Enantiomeric composition (default: the model's own).
    nmda : NmdaParams
        Receptor parameters (Ki, interneuron potency ratio, trapping rates).
    trapping : bool
        Use the trapping (binding) ODE for occupancy instead of instantaneous equilibrium.
    t_eval : array_like, optional
        Output times in hours (default :func:`default_time_grid`).
    backend : {"auto", "exact", "engine", "scipy"}
        ``exact``: matrix-exponential solution (linear model only; no compilation). ``engine``: the numba solver
        (:func:`pkpd.ode.solve`). ``scipy``: the scipy reference. ``auto``: exact unless trapping, else engine.
    rtol : float
        Relative tolerance for the numerical backends.
    params : mapping, optional
        Overrides by name (:mod:`pkpd.overrides`): fields of the PK set, ``route.<route>.<field>`` and the NMDA
        block, each a number in the parameter's unit or text with a unit, e.g. ``{"cl_L_per_h": "40 L/h"}``.
        ``metadata["overrides"]`` records them.
    y0_umol : array_like, shape (n_states,), optional
        Amounts at time 0 (µmol; trapping states as fractions), before the doses at time 0 (default: none).
    steady_state_h : float, optional
        Steady state: the regimen (every dose within ``[0, steady_state_h)``) has been given every
        ``steady_state_h`` hours since long before time 0 and goes on being given through the simulation. The
        amounts at time 0 are :func:`periodic_state`'s (exact for the linear model).

    Returns
    -------
    PkResult

    Raises
    ------
    ValueError
        Naming the field for bad input (unknown model or route for the species, dose after the end, …).
    """
    subject = Subject(species, weight_kg, sex)
    model, nmda, overrides = _with_overrides(get_pk_model(pk_model, subject.species), nmda, params)
    drug = model.check_enantiomer(drug)
    if not is_finite_real(duration_h) or duration_h <= 0:
        raise ValueError(f"duration: expected a positive simulation length in hours, got {duration_h!r}")
    if not isinstance(regimen, Regimen) or len(regimen) == 0:
        raise ValueError("regimen: expected at least one dose")
    if steady_state_h is not None:
        if y0_umol is not None:
            raise ValueError("steady-state: give a steady-state interval or initial amounts, not both")
        tau = _interval(steady_state_h)
        late = [d for d in regimen if not d.time_h < tau or d.end_h > tau]
        if late:
            raise ValueError(f"steady-state: the dose {late[0].describe()} does not end within the interval "
                             f"{format_hours(tau)}; expected the doses of one interval")
        y0_umol = periodic_state(regimen, tau, species=species, pk_model=model, weight_kg=weight_kg, sex=sex,
                                 salt=salt, drug=drug, nmda=nmda, trapping=trapping, rtol=rtol)
        regimen = regimen.repeat(tau, int(math.floor(duration_h / tau)) + 1)
        regimen = Regimen(tuple(d for d in regimen if d.time_h <= duration_h))
    regimen.check_within(duration_h)
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        backend = "engine" if trapping else "exact"
    if backend == "exact" and trapping:
        raise ValueError("backend: 'exact' needs a linear model; trapping makes it nonlinear (use 'engine')")

    system = ketamine_system(trapping, model.resolved)
    sched, records = dose_schedule(model, subject, regimen, salt=salt, drug=drug)
    p = parameter_vector(system, parameter_values(model, subject, drug=drug, nmda=nmda))
    T = default_time_grid(duration_h) if t_eval is None else np.asarray(t_eval, float)
    if T.ndim != 1 or T.size < 2 or T[0] != 0 or not (np.diff(T) > 0).all() or abs(T[-1] - duration_h) > 1e-9:
        raise ValueError("t_eval: expected strictly increasing times from 0 to the duration")
    y0 = np.zeros(system.n_states)
    if y0_umol is not None:
        y0 = np.asarray(y0_umol, float).copy()
        if y0.shape != (system.n_states,) or not np.isfinite(y0).all() or (y0 < 0).any():
            raise ValueError(f"y0: expected {system.n_states} finite amounts >= 0, one per state "
                             f"{list(system.state_names)}")
    amounts = [system.state_index(name) for name in system.nonnegative]  # not the trapping fractions
    total_dose = sum(r["base_umol"] for r in records) + float(y0[amounts].sum())
    atol = np.full(system.n_states, 1e-12 * total_dose)
    if trapping:
        atol[-2:] = 1e-10
    if backend == "exact":
        from .closed_form import solve_linear

        def states(times):
            return solve_linear(system, y0, times, p, sched)
    elif backend == "engine":
        from .ode import STATUS, solve

        def states(times):
            sol = solve(system, y0, times, p, schedule=sched, rtol=rtol, atol=atol, method="auto")
            if sol.status[0] != 0:
                raise RuntimeError(f"the ODE solver failed: {STATUS[int(sol.status[0])]}")
            return sol.y[0]
    else:
        from .ode import solve_reference

        def states(times):
            return solve_reference(system, y0, times, p, schedule=sched, rtol=max(rtol, 1e-10), atol=atol)[0]

    def solution(times):
        """States at sorted ``times`` (h), solved from 0 to the end (whose span holds every event)."""
        grid, where = np.unique(np.concatenate([[0.0, float(duration_h)], np.asarray(times, float)]),
                                return_inverse=True)
        return states(grid)[where[2:]]

    y = states(T)
    cols = _columns(trapping, p, T, y, model.resolved)
    sp = get_species(subject.species)
    meta = {
        "species": subject.species, "pk_model": model.name, "pk_model_description": model.description,
        "drug": drug, "weight_kg": subject.weight_kg, "sex": subject.sex,
        "default_salt": parse_salt(salt) if salt is not None else sp.default_salt,
        "default_salt_rationale": sp.salt_rationale if salt is None else "given by the user",
        "doses": records, "duration_h": float(duration_h), "duration": format_hours(duration_h),
        "overrides": overrides, "trapping": trapping, "backend": backend,
        "rtol": rtol if backend != "exact" else None,
        "steady_state_h": steady_state_h, "initial_amounts": y0_umol is not None,
        "units": {"amount": "umol (free base)", "time": "h", "concentration": "uM"},
        "version": __version__,
    }
    breaks = sorted({e.time for e in sched} | {e.end for e in sched if e.kind == "infusion"})
    return PkResult(T, cols, y, system.state_names, meta, tuple(breaks), solution, (trapping, p, model.resolved))


def pk_sbml(regimen: Regimen | None = None, *, species: str = "mouse", pk_model: str | None = None,
            weight_kg: float | None = None, sex: str = "male", salt: str | None = None, drug: str | None = None,
            nmda: NmdaParams = NmdaParams(), trapping: bool = False) -> str:
    """One subject's PK model (and its regimen, as events) as an SBML Level 3 Version 2 document.

    Amounts in µmol of free base, time in h; the observables are assignment rules named after the columns of
    :func:`simulate_pk`'s table (``plasma_ketamine_uM``, ``plasma_ketamine_ng_per_ml``, …), so a peer simulator
    reproduces the table column by column. Every parameter carries its unit and provenance in its notes; the
    published parameter set the rate constants are derived from is listed in the model's notes.

    Parameters are those of :func:`simulate_pk`; ``regimen`` may be None (no events).
    """
    from .ode import Schedule
    from .ode.sbml import export
    from .parameters import describe
    from .units import MOLAR_MASS_G_PER_MOL

    subject = Subject(species, weight_kg, sex)
    model = get_pk_model(pk_model, subject.species)
    drug = model.check_enantiomer(drug)
    base = ketamine_system(trapping, model.resolved)
    mw = {f"mw_{d}_g_per_mol": sympy.Symbol(f"mw_{d}_g_per_mol") for d in ("ketamine", "norketamine")}
    observables = dict(base.observables)
    observables["plasma_ketamine_ng_per_ml"] = observables["plasma_ketamine_uM"] * mw["mw_ketamine_g_per_mol"]
    observables["plasma_norketamine_ng_per_ml"] = (observables["plasma_norketamine_uM"]
                                                   * mw["mw_norketamine_g_per_mol"])
    from .ode import OdeSystem

    system = OdeSystem(base.states, base.rhs, (*base.params, *mw.values()), observables=observables,
                       name=base.name, nonnegative=base.nonnegative)
    values = parameter_values(model, subject, drug=drug, nmda=nmda)
    values.update({f"mw_{d}_g_per_mol": MOLAR_MASS_G_PER_MOL[d] for d in ("ketamine", "norketamine")})
    p = parameter_vector(system, values)
    sched, records = (dose_schedule(model, subject, regimen, salt=salt, drug=drug)
                      if regimen is not None and len(regimen) else (Schedule(), []))
    derived = (f"derived from the {model.name} parameter set ({model.description}) for a {subject.species} of "
               f"{subject.weight_kg:g} kg, {subject.sex}, {drug}")
    units = {s: "umol" for s in base.nonnegative} | {s: "1" for s in TRAPPING_STATES}
    notes = {}
    for n in system.param_names:
        bare = n[2:] if model.resolved and n.startswith(ENANTIOMER_PREFIXES) else n
        if bare.startswith("k_") or n.startswith("trap_k"):
            units[n] = "1/h"
        elif bare.startswith("v_"):
            units[n] = "L"
        elif n.startswith("mw_"):
            units[n] = "g/mol"
            notes[n] = "molar mass of the free base (from the molecular formula)"
        else:
            units[n] = "1"
        notes.setdefault(n, derived if bare.startswith(("k_", "v_", "fu_")) else "")
    for r in describe(nmda, "nmda"):
        if r["name"] in values:
            units[r["name"]] = r["unit"]
            notes[r["name"]] = f"{r['kind']}: {r['source']}"
    if "s_fraction" in values:
        notes["s_fraction"] = f"fraction of S-enantiomer of {drug}"
    units |= {k: v for k, v in COLUMN_UNITS.items() if k in observables}
    text = [f"ketamine-qsp {__version__}: ketamine and norketamine PK ({model.name}) for one {subject.species}; "
            "amounts in umol of free base, time in h",
            *(f"dose: {r['amount']:g} {r['unit']} {r['route']} at {r['time_h']:g} h = {r['base_umol']:.6g} umol"
              for r in records),
            f"parameter set {model.name}:",
            *(f"{r['group']}.{r['name']} = {r['value']:.6g} {r['unit']} ({r['kind']}; {r['source']})"
              for r in model.parameter_rows())]
    return export(system, np.zeros(system.n_states), p, sched, units=units, annotations=notes, time_unit="h",
                  notes=text)


def check_columns(names, pk_model: str | None = None, species: str = "mouse") -> tuple[str, ...]:
    """The output columns ``names`` checked against what the set ``pk_model`` provides, before any simulation.

    Raises
    ------
    ValueError
        Naming ``columns``: an unknown column, or a column of the enantiomer-resolved sets (S and R apart,
        hydroxynorketamines) asked of a lumped set.
    """
    model = get_pk_model(pk_model, get_species(species).name)
    names = tuple(str(n).strip() for n in names)
    if not names or not all(names):
        raise ValueError("columns: expected a comma-separated list of column names")
    for n in names:
        if n not in COLUMN_UNITS:
            raise ValueError(f"columns: unknown column {n!r}; expected some of {', '.join(COLUMN_UNITS)}")
        if n in ENANTIOMER_COLUMNS and not model.resolved:
            resolved = ", ".join(m.name for m in PK_MODELS.values() if m.resolved and m.species == model.species)
            raise ValueError(f"columns: {n} needs an enantiomer-resolved set ({resolved or 'none for this species'})"
                             f"; the {model.name} PK model lumps S and R and has no hydroxynorketamine")
    return names


def _interval(tau) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau <= 0:
        raise ValueError(f"steady-state: expected a positive dosing interval in hours, got {tau!r}")
    return float(tau)


#: Periodicity reached by integration (nonlinear models): the largest change of any state over one more interval,
#: relative to that state's largest amount over the interval. 1e-10 is a hundredth of the engine's rtol 1e-8.
PERIODIC_TOL = 1e-10
#: Most intervals integrated in search of periodicity before giving up.
PERIODIC_MAX_INTERVALS = 10_000


def _with_overrides(model: PkModel, nmda: NmdaParams, params) -> tuple[PkModel, NmdaParams, list]:
    """The set and the NMDA block with the overrides ``params`` (by name, :mod:`pkpd.overrides`) applied, and their
    record for the outputs (empty without overrides)."""
    if not params:
        return model, nmda, []
    from .overrides import apply_pk, pk_space

    space = pk_space(model)
    values = space.resolve(params)
    model, nmda = apply_pk(model, nmda, values, space)
    return model, nmda, space.record(values, params)


def periodic_state(regimen: Regimen, interval_h: float, *, species: str = "mouse", pk_model=None,
                   weight_kg: float | None = None, sex: str = "male", salt: str | None = None,
                   drug: str | None = None, nmda: NmdaParams = NmdaParams(), trapping: bool = False,
                   rtol: float = 1e-8, params=None, **_ignored) -> np.ndarray:
    """The amounts just before time 0 when ``regimen`` has been given every ``interval_h`` hours forever.

    ``pk_model``: a name of :data:`pkpd.pk_models.PK_MODELS` or a :class:`~pkpd.pk_models.PkModel` (with its
    overrides applied, as :func:`simulate_pk` passes it); ``params``: overrides by name, as :func:`simulate_pk`.

    Linear model: exact (:func:`pkpd.closed_form.periodic_linear`, the matrix exponential); sinks and unused
    depots are 0. With ``trapping`` the PK states are exact and the
    trapping states are integrated interval after interval from 0 until they change by less than
    :data:`PERIODIC_TOL` of their range (they do not feed back on the PK).

    Returns
    -------
    ndarray, shape (n_states,)
        Amounts in µmol (trapping states: fractions); cumulative sinks are 0.
    """
    from .closed_form import periodic_linear

    tau = _interval(interval_h)
    subject = Subject(species, weight_kg, sex)
    model = pk_model if isinstance(pk_model, PkModel) else get_pk_model(pk_model, subject.species)
    model, nmda, _ = _with_overrides(model, nmda, params)
    drug = model.check_enantiomer(drug)
    lin = ketamine_system(False, model.resolved)
    p_lin = parameter_vector(lin, parameter_values(model, subject, drug=drug, nmda=nmda))
    sched, records = dose_schedule(model, subject, regimen, salt=salt, drug=drug)
    y = periodic_linear(lin, p_lin, sched, tau)
    if not trapping:
        return y
    from .ode import STATUS, solve

    system = ketamine_system(True, model.resolved)
    p = parameter_vector(system, parameter_values(model, subject, drug=drug, nmda=nmda))
    y = np.concatenate([y, np.zeros(system.n_states - lin.n_states)])
    atol = np.full(system.n_states, 1e-12 * max(sum(r["base_umol"] for r in records), 1e-300))
    atol[lin.n_states:] = 1e-12
    trap = slice(lin.n_states, None)
    for _ in range(PERIODIC_MAX_INTERVALS):
        sol = solve(system, y, np.linspace(0.0, tau, 9), p, schedule=sched, rtol=min(rtol, 1e-9), atol=atol)
        if sol.status[0] != 0:
            raise RuntimeError(f"the ODE solver failed: {STATUS[int(sol.status[0])]}")
        nxt = sol.y[0, -1].copy()
        span = np.abs(sol.y[0, :, trap]).max(axis=0)
        done = np.all(np.abs(nxt[trap] - y[trap]) <= PERIODIC_TOL * np.maximum(span, 1e-12))
        nxt[:lin.n_states] = y[:lin.n_states]  # exact already; sinks stay 0
        y = nxt
        if done:
            return y
    raise RuntimeError(f"steady-state: no periodic state within {PERIODIC_MAX_INTERVALS} intervals")
