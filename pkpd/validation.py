"""The PK sets against published measurements: the data each set was built from, and data it was not.

Every row is one published number (study, dose, route, species, quantity, value, the study's reported spread and
n) beside the model's value for the same protocol, computed by :func:`pkpd.pk.simulate_pk` and its exposure
summary. Two roles are kept apart:

``fitting``     a number the set was built from (a published parameter or a calibration target): reproducing it
                checks the code, not the model;
``validation``  a published profile the set was **not** fitted to: the model's ratio to it and whether it falls
                inside the study's reported spread is the test of the model. A miss stays in the table.

"Within spread" means inside the interval the study reports: geometric mean ×/÷ geometric SD, mean ± SD, or the
reported range; where a study reports no spread the column is empty (no interval is invented). Observed values
are copied from the cited table or abstract; where a secondary source tabulates them, both are named.

:func:`validation_rows` returns the rows (``ketamine pk --validate`` prints them; :func:`markdown_table` renders
the README block).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

__all__ = ["Observation", "OBSERVATIONS", "validation_rows", "markdown_table", "format_rows"]

# ---- sources ---------------------------------------------------------------------------------------------------
PHARMACOTHERAPY2022 = ("Pharmacotherapy 2022;42:298 (doi:10.1002/phar.2669; PMC9118341), Table 6: ketamine and "
                       "norketamine after 10 mg i.v. and 10/30/50 mg intranasal; geometric mean (geometric SD)")
ZANOS2018_T1 = "Zanos et al. 2018 Pharmacol Rev 70:621, Table 1"
ZARATE2006 = "Zarate et al. 2006 Arch Gen Psychiatry 63:856 (as tabulated in " + ZANOS2018_T1 + ")"
KRYSTAL1994 = "Krystal et al. 1994 Arch Gen Psychiatry 51:199 (range, as tabulated in " + ZANOS2018_T1 + ")"
GRANT1981 = "Grant et al. 1981 Br J Anaesth 53:805 (mean ± SD, as tabulated in " + ZANOS2018_T1 + ")"
CHONG2006 = ("Chong et al. 2006 Pain Med 7:469 (abstract table: 25 mg oral in 6 neuropathic-pain patients, "
             "mean ± SD)")
DOMINO1982 = "Domino et al. 1982 (PMID 7198883): the set's own parameters"
KAMP2020 = "Kamp et al. 2020 Anesthesiology 133:1192: meta-analytic CL 79 L/h and V 252 L per 70 kg"
CLEMENTS1982 = "Clements et al. 1982 J Pharm Sci 71:539: i.m. F 93 %, oral F 17 %"
YANAGIHARA2003 = "Yanagihara et al. 2003 Biopharm Drug Dispos 24:37: intranasal F 45 % (n = 3)"
FANTA2015 = "Fanta et al. 2015 Eur J Clin Pharmacol 71:441: oral F 8 %"
PEREZ2021 = "Perez-Ruixo et al. 2021 Clin Pharmacokinet 60:501: intranasal F 54 % (56 mg), 51 % (84 mg)"
MA2023 = "Ma et al. 2023 Nature 622:802: mouse elimination half-life ~13 min"
COHEN1973 = ("Cohen et al. 1973 Anesthesiology 39:370 (abstract): rat i.v.; brain:plasma ratio 6.5 at all times; "
             "peak brain levels less than a minute after injection")
HASAN2021 = ("Hasan et al. 2021 Anesthesiology 135:326 (abstract): racemic ketamine 5 mg i.v. infusion, 15 healthy "
             "subjects, chiral LC-MS/MS, noncompartmental, mean ± SD")
SIMONS2022 = ("Simons et al. 2022 Front Pain Res 3:946486 (as reported in Simons 2024, Leiden thesis, ch. 2 p. 21): "
              "esketamine 20 mg i.v. over 20 min, arterial plasma, peak S-ketamine mean (95 % CI)")
EJCP2002 = ("Eur J Clin Pharmacol 2002;57:869 (abstract): S- and R-ketamine HCl 7 mg each over 30 min on separate "
            "days, 10 healthy men, arterial samples: mean CL 0.024 (S) and 0.020 (R) L/min/kg")
LORD2013 = ("Lord et al. 2013 Eur J Pharmacol 715:21 (abstract): ex vivo [3H]MK-801 autoradiography, mouse "
            "hippocampus, 30 mg/kg s.c.: maximal occupancy at 15 min, no significant occupancy at 1 h")

#: quantity -> (label, unit)
QUANTITIES = {
    "cmax": ("ketamine Cmax", "ng/mL"), "c_at": ("ketamine C(t)", "ng/mL"), "tmax": ("ketamine Tmax", "min"),
    "auc": ("ketamine AUC0-inf", "ng·h/mL"), "nor_cmax": ("norketamine Cmax", "ng/mL"),
    "nor_ket_auc_ratio": ("norketamine:ketamine AUC", "1"), "half_life": ("ketamine t1/2", "min"),
    "cl": ("ketamine CL", "L/h"), "f": ("bioavailability F", "1"),
    "brain_plasma_auc_ratio": ("brain:plasma AUC", "1"),
    "occupancy_tmax": ("NMDA occupancy Tmax (pyramidal Ki)", "min"),
    "occupancy_at": ("NMDA occupancy (pyramidal Ki)", "1"),
    "hnk_ket_auc_ratio": ("2,6-HNK:ketamine AUC", "1"),
    "brain_tmax": ("brain ketamine Tmax", "min"),
}


@dataclass(frozen=True)
class Observation:
    """One published number and the protocol that produced it.

    Attributes
    ----------
    study : str
        Short label (first author, year).
    source : str
        Citation with table or figure.
    species : {"mouse", "human"}
    doses : tuple of (amount, route, duration_h)
        The regimen as given to :meth:`pkpd.dosing.Regimen.single` (``duration_h`` for infusions, else None); all
        at time 0.
    quantity : str
        A key of :data:`QUANTITIES`.
    observed : float or str
        The published value, in the unit of :data:`QUANTITIES`; a string where the source reports a finding
        without a number (the row then has no ratio and no spread test; the note says what to compare).
    spread : tuple, optional
        ``("gsd", g)``, ``("sd", s)`` or ``("range", lo, hi)`` as the study reports it; None if it reports none.
    n : int, optional
        Subjects.
    models : tuple of str or None
        PK sets to compare (None: the species' default).
    role : {"validation", "fitting"}
    at_min : float, optional
        Sampling time (min) for ``quantity = "c_at"``.
    note : str
    drug : {"racemic", "esketamine", "arketamine"}, optional
        The form dosed (default: the set's own). An enantiomer-resolved set's S or R value of a racemic study is
        read from an esketamine or arketamine dose: the chains do not interact, so each is half the racemate's.
    """

    study: str
    source: str
    species: str
    doses: tuple
    quantity: str
    observed: float | str
    spread: tuple | None = None
    n: int | None = None
    models: tuple = (None,)
    role: str = "validation"
    at_min: float | None = None
    note: str = ""
    drug: str | None = None

    @property
    def regimen_text(self) -> str:
        parts = []
        for amount, route, dur in self.doses:
            parts.append(f"{amount} {route}" + (f" over {dur * 60:g} min" if dur else ""))
        return " + ".join(parts)

    def interval(self) -> tuple[float, float] | None:
        """The reported spread as an interval (None where the study reports none)."""
        if self.spread is None or isinstance(self.observed, str):
            return None
        kind = self.spread[0]
        if kind == "gsd":
            return self.observed / self.spread[1], self.observed * self.spread[1]
        if kind == "sd":
            return self.observed - self.spread[1], self.observed + self.spread[1]
        if kind == "range":
            return self.spread[1], self.spread[2]
        raise ValueError(f"spread: expected 'gsd', 'sd' or 'range', got {kind!r}")

    def spread_text(self) -> str:
        if self.spread is None:
            return "not reported"
        kind = self.spread[0]
        if kind == "gsd":
            return f"×/÷ {self.spread[1]:g} (geometric SD)"
        if kind == "sd":
            return f"± {self.spread[1]:g} (SD)"
        return f"{self.spread[1]:g}–{self.spread[2]:g} (range)"


_IV10 = (("10mg", "iv", None),)
_INF40 = (("0.5mg/kg", "iv-infusion", 40 / 60),)
_PT = "Pharmacotherapy 2022"
_IV5 = (("5mg", "iv", None),)
_ESK20 = (("20mg", "iv-infusion", 20 / 60),)
_HASAN = ("hasan2021",)
_EJCP = "Eur J Clin Pharmacol 2002"
_INF7 = (("7mg", "iv-infusion", 0.5),)
_EJCP_NOTE = "observed = the per-kg clearance × 70 kg (the model's weight)"
_S_NOTE = _R_NOTE = ("(S), (R): the model's S or R value, from an esketamine or arketamine dose (the chains do not "
                     "interact); CL 1620 / 1530 ± 380 mL/min")
_SIMONS_NOTE = ("the spread is the 95 % CI of the mean, not between subjects; given 6 h after a sublingual film "
                "whose residue adds a little")
_IV_NOTE = "the table gives Tmax 2 min, its earliest sample; the model is read at 2 min"

#: Every published number the PK sets are compared with.
OBSERVATIONS: tuple[Observation, ...] = (
    # ---- human racemic, validation -------------------------------------------------------------------------
    Observation(_PT, PHARMACOTHERAPY2022, "human", _IV10, "c_at", 296.0, ("gsd", 1.71), 9,
                (None, "kamp2020", "hasan2021"), at_min=2.0, note=_IV_NOTE),
    Observation(_PT, PHARMACOTHERAPY2022, "human", _IV10, "auc", 113.0, None, 9, (None, "kamp2020", "hasan2021")),
    Observation(_PT, PHARMACOTHERAPY2022, "human", _IV10, "nor_ket_auc_ratio", 0.19, None, 8, (None, "hasan2021")),
    Observation("Zarate 2006", ZARATE2006, "human", _INF40, "cmax", 185.0, None, None,
                (None, "kamp2020", "hasan2021")),
    Observation("Krystal 1994", KRYSTAL1994, "human", _INF40, "cmax", 175.0, ("range", 100.0, 250.0), None,
                (None, "kamp2020", "hasan2021"), note="observed = midpoint of the reported 100–250 ng/mL"),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("10mg", "intranasal", None),), "cmax", 22.9, ("gsd", 1.97), 7),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("10mg", "intranasal", None),), "tmax", 23.0, None, 7),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("10mg", "intranasal", None),), "auc", 19.0, None, 7),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("30mg", "intranasal", None),), "cmax", 60.8, ("gsd", 1.90), 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("30mg", "intranasal", None),), "tmax", 14.0, None, 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("30mg", "intranasal", None),), "auc", 46.0, None, 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("30mg", "intranasal", None),), "f", 0.13, None, 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("30mg", "intranasal", None),), "nor_cmax", 68.1,
                ("gsd", 1.80), 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("30mg", "intranasal", None),), "nor_ket_auc_ratio", 3.95,
                None, 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("50mg", "intranasal", None),), "cmax", 77.6, ("gsd", 2.29), 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("50mg", "intranasal", None),), "tmax", 16.0, None, 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("50mg", "intranasal", None),), "auc", 64.0, None, 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("50mg", "intranasal", None),), "nor_cmax", 105.0,
                ("gsd", 1.63), 10),
    Observation(_PT, PHARMACOTHERAPY2022, "human", (("50mg", "intranasal", None),), "nor_ket_auc_ratio", 4.54,
                None, 10),
    Observation("Grant 1981", GRANT1981, "human", (("0.5mg/kg", "oral", None),), "cmax", 45.0, ("sd", 10.0)),
    Observation("Chong 2006", CHONG2006, "human", (("25mg", "oral", None),), "cmax", 22.8, ("sd", 12.8), 6),
    Observation("Chong 2006", CHONG2006, "human", (("25mg", "oral", None),), "tmax", 0.96 * 60, ("sd", 0.8 * 60), 6),
    Observation("Chong 2006", CHONG2006, "human", (("25mg", "oral", None),), "nor_cmax", 82.0, ("sd", 34.0), 6),
    Observation("Chong 2006", CHONG2006, "human", (("25mg", "oral", None),), "f", 0.23, ("sd", 0.09), 6),
    # ---- fitting data: what each set was built from ---------------------------------------------------------
    Observation("Domino 1982", DOMINO1982, "human", _IV10, "cl", 0.063 * 0.438 * 60 * 70, role="fitting",
                note="CL = V1 k10, 70 kg"),
    Observation("Domino 1982", DOMINO1982, "human", _IV10, "half_life",
                114.6, role="fitting", note="terminal root of the published three-compartment model"),
    Observation("Kamp 2020", KAMP2020, "human", _IV10, "cl", 79.0, ("range", 69.0, 90.0), models=("kamp2020",),
                role="fitting", note="95 % CI"),
    Observation("Clements 1982", CLEMENTS1982, "human", (("10mg", "im", None),), "f", 0.93, role="fitting"),
    Observation("Clements 1982", CLEMENTS1982, "human", (("10mg", "oral", None),), "f", 0.17, role="fitting"),
    Observation("Yanagihara 2003", YANAGIHARA2003, "human", (("25mg", "intranasal", None),), "f", 0.45, n=3,
                role="fitting"),
    Observation("Fanta 2015", FANTA2015, "human", (("10mg", "oral", None),), "f", 0.08, models=("fanta2015",),
                role="fitting"),
    Observation("Perez-Ruixo 2021", PEREZ2021, "human", (("56mg", "intranasal", None),), "f", 0.54,
                models=("perez-ruixo2021",), role="fitting"),
    Observation("Perez-Ruixo 2021", PEREZ2021, "human", (("84mg", "intranasal", None),), "f", 0.51,
                models=("perez-ruixo2021",), role="fitting"),
    # ---- mouse, validation -----------------------------------------------------------------------------------
    Observation("Lord 2013", LORD2013, "mouse", (("30mg/kg", "sc", None),), "occupancy_tmax", 15.0,
                note="the earliest sampled time is not given in the abstract"),
    Observation("Cohen 1973", COHEN1973, "mouse", (("10mg/kg", "iv", None),), "brain_tmax", 1.0, ("range", 0.0, 1.0),
                note="rat (no mouse i.v. brain time course found), the study that sets kp; observed 'less than a "
                     "minute': the bound shown as the value, 0-1 min as the spread"),
    Observation("Lord 2013", LORD2013, "mouse", (("30mg/kg", "sc", None),), "occupancy_at", "not significant",
                at_min=60.0, note="the study finds no significant occupancy at 1 h; compare the model's value"),
    # ---- human enantiomers (hasan2021): fitting data, then validation ----------------------------------------------
    Observation("Hasan 2021", HASAN2021, "human", _IV5, "cl", 97.2, ("sd", 22.8), 15, _HASAN, "fitting",
                drug="esketamine", note=_S_NOTE),
    Observation("Hasan 2021", HASAN2021, "human", _IV5, "cl", 91.8, ("sd", 22.8), 15, _HASAN, "fitting",
                drug="arketamine", note=_R_NOTE),
    Observation("Hasan 2021", HASAN2021, "human", _IV5, "hnk_ket_auc_ratio", 1.7, ("sd", 0.8), 15, _HASAN,
                "fitting", drug="esketamine", note=_S_NOTE),
    Observation("Hasan 2021", HASAN2021, "human", _IV5, "hnk_ket_auc_ratio", 3.1, ("sd", 1.4), 15, _HASAN,
                "fitting", drug="arketamine", note=_R_NOTE),
    Observation("Hasan 2021", HASAN2021, "human", _IV5, "half_life", 5.2 * 60, ("sd", 3.4 * 60), 15, _HASAN,
                drug="esketamine", note=_S_NOTE),
    Observation("Hasan 2021", HASAN2021, "human", _IV5, "half_life", 6.1 * 60, ("sd", 3.1 * 60), 15, _HASAN,
                drug="arketamine", note=_R_NOTE),
    Observation(_EJCP, EJCP2002, "human", _INF7, "cl", 0.024 * 60 * 70, None, 10, _HASAN, drug="esketamine",
                note=_EJCP_NOTE),
    Observation(_EJCP, EJCP2002, "human", _INF7, "cl", 0.020 * 60 * 70, None, 10, _HASAN, drug="arketamine",
                note=_EJCP_NOTE),
    Observation("Simons 2022", SIMONS2022, "human", _ESK20, "cmax", 273.0, ("range", 259.0, 287.0), 20,
                ("hasan2021", "fanta2015"), drug="esketamine", note=_SIMONS_NOTE + " (first occasion)"),
    Observation("Simons 2022", SIMONS2022, "human", _ESK20, "cmax", 260.0, ("range", 251.0, 269.0), 19,
                ("hasan2021", "fanta2015"), drug="esketamine", note=_SIMONS_NOTE + " (second occasion)"),
    Observation("Ma 2023", MA2023, "mouse", (("10mg/kg", "iv", None),), "half_life", 13.0, role="fitting"),
    Observation("Cohen 1973", COHEN1973, "mouse", (("10mg/kg", "iv", None),), "brain_plasma_auc_ratio", 6.5,
                role="fitting"),
)

#: Simulated span (h): long enough that the AUC extrapolated beyond it is < 1 % of the total for every set.
_DURATION_H = 48.0


@functools.lru_cache(maxsize=None)
def _summary(species: str, pk_model: str | None, doses: tuple, drug: str | None = None) -> dict:
    from .dosing import Regimen
    from .pk import simulate_pk

    reg = None
    for amount, route, dur in doses:
        r = Regimen.single(amount, route, duration_h=dur)
        reg = r if reg is None else reg + r
    res = simulate_pk(reg, _DURATION_H, species=species, pk_model=pk_model, drug=drug)
    return {"summary": res.summary(), "result": res}


def model_value(obs: Observation, pk_model: str | None) -> float:
    """The model's value of ``obs.quantity`` for ``obs``'s protocol and the set ``pk_model``, in the unit of
    :data:`QUANTITIES`."""
    from .units import uM_to_ng_per_mL

    got = _summary(obs.species, pk_model, obs.doses, obs.drug)
    s, res = got["summary"], got["result"]
    pk, nor = s["plasma_ketamine"], s["plasma_norketamine"]
    q = obs.quantity
    if q == "cmax":
        return pk["cmax_ng_per_ml"]
    if q == "c_at":
        return float(res.at([obs.at_min / 60.0])["plasma_ketamine_ng_per_ml"][0])
    if q == "tmax":
        return pk["tmax_h"] * 60.0
    if q == "auc":
        return float(uM_to_ng_per_mL(pk["auc_0_inf_uM_h"], "ketamine"))
    if q == "nor_cmax":
        return float(uM_to_ng_per_mL(nor["cmax_uM"], "norketamine"))
    if q == "nor_ket_auc_ratio":  # mass-concentration ratio (ng/mL), as the studies report it
        return float(uM_to_ng_per_mL(nor["auc_0_inf_uM_h"], "norketamine")
                     / uM_to_ng_per_mL(pk["auc_0_inf_uM_h"], "ketamine"))
    if q == "half_life":
        return pk["half_life_h"] * 60.0
    if q == "occupancy_tmax":
        return s["nmda_occupancy_pyramidal"]["t_peak_h"] * 60.0
    if q == "occupancy_at":
        return float(res.at([obs.at_min / 60.0])["nmda_occupancy_pyramidal"][0])
    if q == "hnk_ket_auc_ratio":
        hnk = {"esketamine": "2s6s", "arketamine": "2r6r"}.get(obs.drug)
        if hnk is None:
            raise ValueError("drug: the HNK:ketamine ratio is read per enantiomer; expected esketamine or arketamine")
        return s[f"plasma_{hnk}_hydroxynorketamine"]["auc_0_inf_uM_h"] / pk["auc_0_inf_uM_h"]
    if q == "brain_plasma_auc_ratio":
        return s["brain_to_plasma_auc_ratio"]
    if q == "brain_tmax":
        return s["brain_ketamine"]["tmax_h"] * 60.0
    if q in ("cl", "f"):
        iv = (tuple((a, "iv", None) for a, _, _ in obs.doses))
        auc_iv = _summary(obs.species, pk_model, iv, obs.drug)["summary"]["plasma_ketamine"]["auc_0_inf_uM_h"]
        if q == "f":
            return pk["auc_0_inf_uM_h"] / auc_iv
        umol = sum(d["base_umol"] for d in res.metadata["doses"])
        return umol / auc_iv
    raise ValueError(f"quantity: unknown {q!r}; expected one of {', '.join(QUANTITIES)}")


def validation_rows(role: str | None = None) -> list[dict]:
    """One row per (observation, PK set): the published value, its spread, the model's value and their ratio.

    Parameters
    ----------
    role : {"validation", "fitting"}, optional
        Only rows of this role (default: all, fitting rows last).

    Returns
    -------
    list of dict
        ``role, study, source, species, regimen, quantity, unit, observed, spread, n, pk_model, model, ratio,
        within`` (``within``: True/False, or None where the study reports no spread).
    """
    from .pk_models import get_pk_model

    if role not in (None, "validation", "fitting"):
        raise ValueError(f"role: expected 'validation' or 'fitting', got {role!r}")
    rows = []
    for r in ("validation", "fitting"):
        if role not in (None, r):
            continue
        for obs in OBSERVATIONS:
            if obs.role != r:
                continue
            for m in obs.models:
                name = get_pk_model(m, obs.species).name
                value = model_value(obs, m)
                iv = obs.interval()
                label, unit = QUANTITIES[obs.quantity]
                if obs.quantity == "c_at":
                    label = f"ketamine C({obs.at_min:g} min)"
                elif obs.quantity == "occupancy_at":
                    label = f"NMDA occupancy at {obs.at_min:g} min (pyramidal Ki)"
                label += {"esketamine": " (S)", "arketamine": " (R)"}.get(obs.drug, "")
                qualitative = isinstance(obs.observed, str)
                rows.append({"role": r, "study": obs.study, "source": obs.source, "species": obs.species,
                             "regimen": obs.regimen_text, "quantity": label, "unit": unit,
                             "observed": obs.observed, "spread": obs.spread_text(), "n": obs.n, "pk_model": name,
                             "model": value, "ratio": None if qualitative else value / obs.observed,
                             "within": None if iv is None else bool(iv[0] <= value <= iv[1]), "note": obs.note})
    return rows


def _fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.4g}"


def _obs(r: dict) -> str:
    if isinstance(r["observed"], str):
        return r["observed"]
    return f"{_fmt(r['observed'])}{_unit(r['unit'])}"


def _ratio(r: dict) -> str:
    return "—" if r["ratio"] is None else f"{r['ratio']:.2f}"


def _unit(unit: str) -> str:
    return "" if unit == "1" else f" {unit}"


def markdown_table(rows: list[dict]) -> str:
    """The rows as two Markdown tables (validation, then fitting data), with the sources listed below."""
    out = []
    sources: dict[str, int] = {}
    for role, title in (("validation", "Validation: published profiles the sets were not fitted to"),
                        ("fitting", "Fitting data: what the sets were built from (reproducing them checks the "
                                    "code, not the model)")):
        sub = [r for r in rows if r["role"] == role]
        if not sub:
            continue
        out += [f"**{title}**", "", "| study | species | regimen | quantity | observed (spread, n) | set | model | "
                "model/obs | within spread |", "|---|---|---|---|---|---|---|---|---|"]
        for r in sub:
            k = sources.setdefault(r["source"], len(sources) + 1)
            n = f", n = {r['n']}" if r["n"] else ""
            within = {True: "yes", False: "**no**", None: "—"}[r["within"]]
            out.append(f"| {r['study']} [{k}] | {r['species']} | {r['regimen']} | {r['quantity']} | "
                       f"{_obs(r)} ({r['spread']}{n}) | {r['pk_model']} | "
                       f"{_fmt(r['model'])} | {_ratio(r)} | {within} |")
        out.append("")
    out += [f"[{k}] {s}" + "  " for s, k in sources.items()]
    notes = sorted({f"{r['study']}, {r['regimen']}: {r['note']}" for r in rows if r["note"]})
    if notes:
        out += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(out).rstrip() + "\n"


def format_rows(rows: list[dict]) -> str:
    """A plain-text table for the terminal (``ketamine pk --validate``)."""
    head = ("role", "study", "regimen", "quantity", "observed", "spread", "set", "model", "ratio", "within")
    body = [(r["role"], r["study"], r["regimen"], r["quantity"], _obs(r),
             r["spread"], r["pk_model"], _fmt(r["model"]), _ratio(r),
             {True: "yes", False: "NO", None: "-"}[r["within"]]) for r in rows]
    w = [max(len(str(x[i])) for x in (head, *body)) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w[i]) for i, c in enumerate(line)) for line in (head, *body)) + "\n"


README_START, README_END = "<!-- pk-validation:start -->", "<!-- pk-validation:end -->"


def readme_block(rows: list[dict] | None = None) -> str:
    """The README's validation block, markers included (``rows`` default: :func:`validation_rows`)."""
    table = markdown_table(validation_rows() if rows is None else rows)
    return (f"{README_START}\n### PK against published profiles (`ketamine pk --validate`)\n\n"
            f"Generated by `pkpd.validation.update_readme`; every number is computed by `pkpd.validation."
            f"validation_rows`, the function behind `ketamine pk --validate`.\n\n{table}{README_END}")


def update_readme(path) -> bool:
    """Replace the block between the markers in ``path`` with :func:`readme_block`; True if it changed.

    Raises
    ------
    ValueError
        If the file lacks the markers (:func:`pkpd.io.replace_marked`).
    """
    from .io import replace_marked

    return replace_marked(path, README_START, README_END, readme_block()[len(README_START):-len(README_END)])
