"""Named dosing regimens (presets) and their side-by-side comparison through the circuit.

A preset is a name that expands to a :class:`pkpd.dosing.Regimen` for one species; mg/kg doses are scaled by the
subject's body weight when simulated (70 kg human, 25 g mouse by default). Names:

======================  =======  ==========================================================================
name                    species  regimen
======================  =======  ==========================================================================
``single``              mouse    10 mg/kg i.p. (HCl) once — Wu et al. 2021 eLife
``daily:N``             mouse    10 mg/kg i.p. every 24 h, N times (``daily`` = ``daily:5``)
``bolus``               mouse    10 mg/kg i.v. bolus
``infusion_40min``      mouse    10 mg/kg i.v. over 40 min
``infusion_2h``         mouse    10 mg/kg i.v. over 2 h
``human_single``        human    0.5 mg/kg racemic i.v. over 40 min once — Zarate et al. 2006; Murrough 2013
``human_bolus``         human    0.5 mg/kg racemic i.v. bolus
``human_infusion_2h``   human    0.5 mg/kg racemic i.v. over 2 h
``human_6x12d``         human    0.5 mg/kg over 40 min on days 0, 2, 4, 7, 9, 11 (Mon/Wed/Fri) — Murrough et
                                 al. 2013 Biol Psychiatry 74:250; Shiroma et al. 2014 J Affect Disord 155:123
``esketamine_56``       human    56 mg esketamine intranasal twice weekly for 4 weeks (days 0, 3, 7, 10, 14, 17,
                                 21, 24), PK model perez-ruixo2021 — SPRAVATO label induction phase
``esketamine_84``       human    84 mg, same schedule
======================  =======  ==========================================================================

:func:`compare_regimens` runs presets and user event tables (:func:`pkpd.dosing.read_regimen`; CSV or TOML) through
:func:`circuits.translation.translate_many` — one readout for every species: circuit rescue from the
chronic-stress depressed state — and returns per-regimen onset, peak, duration, half-life of the effect and
exposure; :func:`plot_regimens` draws the rescue curves and an exposure panel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pkpd.dosing import Dose, Regimen
from pkpd.parameters import is_finite_real

__all__ = ["Preset", "PRESETS", "expand_preset", "preset_spec", "regimen_file_spec", "default_presets",
           "compare_regimens", "RegimenComparison", "plot_regimens", "default_horizon_h", "TABLE_COLUMNS"]

_HUMAN_INFUSION_H = 40.0 / 60.0
_ESKETAMINE_DAYS = (0, 3, 7, 10, 14, 17, 21, 24)
_SIX_OVER_12_DAYS = (0, 2, 4, 7, 9, 11)


@dataclass(frozen=True)
class Preset:
    """A named regimen: species, PK model (None = the species default), description with provenance and the
    builder ``build(n)`` (``n`` the preset's integer argument, if it takes one, else None)."""

    name: str
    species: str
    description: str
    build: Callable
    pk_model: str | None = None
    takes_count: bool = False
    default_count: int | None = None


def _days(amount: str, route: str, days, duration_h: float | None = None) -> Regimen:
    return Regimen(tuple(Dose(24.0 * d, amount, route, duration_h) for d in days))


def _daily(n: int) -> Regimen:
    return Regimen.single("10mg/kg", "ip").repeat(24.0, n)


#: Every preset by name (see the module docstring).
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("single", "mouse", "10 mg/kg i.p. (HCl salt) once, as in Wu et al. 2021 eLife",
           lambda n: Regimen.single("10mg/kg", "ip")),
    Preset("daily", "mouse", "10 mg/kg i.p. every 24 h, N times ('daily:N'; default 5)", _daily,
           takes_count=True, default_count=5),
    Preset("bolus", "mouse", "10 mg/kg i.v. bolus (the same total dose as single)",
           lambda n: Regimen.single("10mg/kg", "iv")),
    Preset("infusion_40min", "mouse", "10 mg/kg i.v. infused over 40 min",
           lambda n: Regimen.single("10mg/kg", "iv-infusion", duration_h=_HUMAN_INFUSION_H)),
    Preset("infusion_2h", "mouse", "10 mg/kg i.v. infused over 2 h",
           lambda n: Regimen.single("10mg/kg", "iv-infusion", duration_h=2.0)),
    Preset("human_single", "human", "0.5 mg/kg racemic ketamine i.v. over 40 min once (Zarate et al. 2006 Arch "
           "Gen Psychiatry 63:856; Murrough et al. 2013 Am J Psychiatry 170:1134); PK Kamp et al. 2020",
           lambda n: Regimen.single("0.5mg/kg", "iv-infusion", duration_h=_HUMAN_INFUSION_H)),
    Preset("human_bolus", "human", "0.5 mg/kg racemic ketamine i.v. bolus (the same dose, no infusion)",
           lambda n: Regimen.single("0.5mg/kg", "iv")),
    Preset("human_infusion_2h", "human", "0.5 mg/kg racemic ketamine i.v. over 2 h",
           lambda n: Regimen.single("0.5mg/kg", "iv-infusion", duration_h=2.0)),
    Preset("human_6x12d", "human", "six 0.5 mg/kg 40-min infusions over 12 days, thrice weekly (days 0, 2, 4, 7, "
           "9, 11; Murrough et al. 2013 Biol Psychiatry 74:250; Shiroma et al. 2014 J Affect Disord 155:123)",
           lambda n: _days("0.5mg/kg", "iv-infusion", _SIX_OVER_12_DAYS, _HUMAN_INFUSION_H)),
    Preset("esketamine_56", "human", "56 mg esketamine intranasal twice weekly for 4 weeks (days 0, 3, 7, 10, 14, "
           "17, 21, 24; SPRAVATO label induction phase; Popova et al. 2019 Am J Psychiatry 176:428); PK "
           "Perez-Ruixo et al. 2021", lambda n: _days("56mg", "intranasal", _ESKETAMINE_DAYS),
           pk_model="perez-ruixo2021"),
    Preset("esketamine_84", "human", "84 mg esketamine intranasal twice weekly for 4 weeks (days 0, 3, 7, 10, 14, "
           "17, 21, 24; SPRAVATO label); PK Perez-Ruixo et al. 2021",
           lambda n: _days("84mg", "intranasal", _ESKETAMINE_DAYS), pk_model="perez-ruixo2021"),
)}


def _valid_names() -> str:
    return ", ".join(f"{p.name}:N" if p.takes_count else p.name for p in PRESETS.values())


def _parse(name: str) -> tuple[Preset, int | None]:
    text = str(name).strip()
    key, sep, arg = text.partition(":")
    key = key.strip().lower()
    if key not in PRESETS:
        raise ValueError(f"preset: unknown preset {name!r}; expected one of {_valid_names()}")
    p = PRESETS[key]
    if not p.takes_count:
        if sep:
            raise ValueError(f"preset: {key!r} takes no ':N' argument, got {name!r}")
        return p, None
    if not sep:
        return p, p.default_count
    try:
        n = int(arg)
    except ValueError:
        n = 0
    if n < 1 or str(n) != arg.strip():
        raise ValueError(f"preset: {key!r} expects a positive whole number of doses after ':' (e.g. '{key}:5'), "
                         f"got {arg!r}")
    return p, n


def expand_preset(name: str) -> Regimen:
    """The :class:`~pkpd.dosing.Regimen` of a preset name (``"human_6x12d"``, ``"daily:7"``).

    Raises
    ------
    ValueError
        An unknown name (the message lists every valid preset) or a bad ``:N``.
    """
    p, n = _parse(name)
    return p.build(n)


def preset_spec(name: str, *, weight_kg: float | None = None):
    """A :class:`circuits.translation.RegimenSpec` for a preset (its species and PK model)."""
    from .translation import RegimenSpec

    p, n = _parse(name)
    label = p.name if not p.takes_count else f"{p.name}:{n}"
    return RegimenSpec(label, p.build(n), p.species, p.pk_model, weight_kg)


def regimen_file_spec(path, *, species: str = "human", pk_model: str | None = None,
                      weight_kg: float | None = None, horizon_h: float | None = None):
    """A :class:`circuits.translation.RegimenSpec` from an event table (.csv or .toml;
    :func:`pkpd.dosing.read_regimen`).

    Raises
    ------
    ValueError
        As :func:`~pkpd.dosing.read_regimen`, and for a dose after ``horizon_h``: the message names the file, the
        row and the column ``time``.
    """
    from pkpd.dosing import read_regimen, regimen_from_rows
    from pkpd.units import format_hours

    from .translation import RegimenSpec

    p = Path(path)
    reg = read_regimen(p)
    if horizon_h is not None and any(d.time_h > horizon_h for d in reg):
        for i, row in enumerate(_raw_rows(p), start=1):
            late = [d for d in regimen_from_rows([row], p.name) if d.time_h > horizon_h]
            if late:
                rep = " (after repeat/interval)" if len(regimen_from_rows([row], p.name)) > 1 else ""
                raise ValueError(f"{p.name} row {i}, column 'time': a dose at {format_hours(late[0].time_h)}{rep} "
                                 f"is after the horizon ({format_hours(horizon_h)}); expected every dose time <= "
                                 f"the horizon (--horizon)")
    return RegimenSpec(p.stem, reg, species, pk_model, weight_kg)


def _raw_rows(p: Path) -> list[dict]:
    import csv
    import tomllib

    if p.suffix.lower() == ".csv":
        with p.open(newline="", encoding="utf-8") as fh:
            lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
        return list(csv.DictReader(lines))
    return list(tomllib.loads(p.read_text(encoding="utf-8")).get("dose", []))


def default_presets(species: str = "human") -> tuple[str, ...]:
    """The presets compared when none are named: the clinical regimens (human) or the mouse route/schedule set."""
    from pkpd.species import get_species

    sp = get_species(species).name
    if sp == "human":
        return ("human_single", "human_6x12d", "esketamine_56", "esketamine_84")
    return ("single", "daily:5", "bolus", "infusion_40min", "infusion_2h")


def default_horizon_h(regimens) -> float:
    """21 days, or the last dose + 14 days if that is later (so that the fading after the last dose is seen)."""
    last = max((r.end_h for r in regimens), default=0.0)
    return max(21.0 * 24.0, math.ceil((last + 14.0 * 24.0) / 24.0) * 24.0)


#: Columns of :meth:`RegimenComparison.table` (times in h from the first dose; rescue as a fraction).
TABLE_COLUMNS = ("regimen", "species", "pk_model", "n_doses", "total_base_mg", "onset_h", "peak_rescue",
                 "peak_time_h", "duration_h", "half_life_h", "rescue_24h", "rescue_7d", "rescue_at_end",
                 "da_peak_rescue", "da_peak_time_h", "da_half_life_h", "cmax_plasma_ketamine_ng_per_ml",
                 "auc_plasma_ketamine_uM_h", "peak_occupancy_interneuron", "peak_occupancy_pyramidal")


@dataclass(frozen=True, eq=False)
class RegimenComparison:
    """The regimens translated side by side: one :class:`~circuits.translation.TranslationResult` each, the
    no-drug control and the horizon."""

    results: tuple
    control: dict
    horizon_h: float
    #: parameter overrides: one row per (name, regimen it applies to; None for circuit parameters)
    overrides: tuple = ()
    #: posterior predictions (:func:`circuits.posterior.regimens_posterior`): ``{"draws", "model_version",
    #: "median": {column: per-regimen values}, "ci90": {column: per-regimen [p05, p95]}}``, or None
    posterior: dict | None = None

    def table(self) -> dict[str, list]:
        """One row per regimen, the columns of :data:`TABLE_COLUMNS`; with a posterior, every numeric column is
        the median over the posterior draws, with ``<column>_ci90_lo`` and ``_hi`` after the columns."""
        rows = [r.row() for r in self.results]
        out = {k: [row[k] for row in rows] for k in TABLE_COLUMNS}
        if self.posterior:
            out.update(self.posterior["median"])
            for k, ci in self.posterior["ci90"].items():
                out[f"{k}_ci90_lo"] = [c[0] for c in ci]
                out[f"{k}_ci90_hi"] = [c[1] for c in ci]
        return out

    def timecourse(self) -> dict[str, list]:
        """Every regimen's time courses stacked (long format): regimen, time_h, rescue, p_fail, da_response_rel,
        w, occupancy_mpfc_interneuron, plasma_ketamine_uM."""
        tc = {k: [] for k in ("regimen", "time_h", "rescue", "p_fail", "da_response_rel", "w",
                              "occupancy_mpfc_interneuron", "plasma_ketamine_uM")}
        for r in self.results:
            tc["regimen"] += [r.label] * r.t_h.size
            for k, v in (("time_h", r.t_h), ("rescue", r.rescue), ("p_fail", r.p_fail),
                         ("da_response_rel", r.da_response_rel), ("w", r.w),
                         ("occupancy_mpfc_interneuron", r.occupancy_interneuron),
                         ("plasma_ketamine_uM", r.plasma_ketamine_uM)):
                tc[k] += list(map(float, v))
        return tc

    def write(self, out_dir, command: str = "") -> dict:
        """Write ``regimens.csv`` (:meth:`table`), ``regimens_timecourse.csv``, ``regimens.png``/``.svg`` and
        ``regimens.study.json`` (the record ``ketamine report`` reads: inputs, results, the mouse-to-human
        assumptions, ``command``) into ``out_dir``, each atomically; return the record."""
        from pkpd import __version__
        from pkpd.io import write_json, write_table

        from .translation import assumption_rows

        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise ValueError(f"out: {str(out)!r} exists and is not a directory")
        out.mkdir(parents=True, exist_ok=True)
        table = self.table()
        write_table(table, out / "regimens.csv")
        write_table(self.timecourse(), out / "regimens_timecourse.csv")
        plot_regimens(self, out / "regimens.png")
        rows = [dict(zip(table, vals)) for vals in zip(*table.values())]
        record = {"kind": "regimens", "command": command, "version": __version__,
                  "inputs": {"regimens": {r.label: {"species": r.species, "pk_model": r.pk_model,
                                                    "weight_kg": r.weight_kg, "doses": r.regimen.describe()}
                                          for r in self.results},
                             "horizon_h": self.horizon_h, "overrides": list(self.overrides),
                             **({"posterior": {k: self.posterior[k] for k in ("draws", "model_version")}}
                                if self.posterior else {})},
                  "results": {"table": rows, "depressed_state": self.results[0].reference,
                              "no_drug_max_abs_rescue": float(abs(self.control["rescue"]).max())},
                  "assumptions": assumption_rows(), "figures": ["regimens.png", "regimens.svg"],
                  "files": ["regimens.csv", "regimens_timecourse.csv"]}
        write_json(record, out / "regimens.study.json")
        return record


def compare_regimens(names_or_regimens, *, species: str = "human", horizon_days: float | None = None,
                     weight_kg: float | None = None, pk_model: str | None = None, step_h: float = 1.0,
                     progress=None, params=None) -> RegimenComparison:
    """Translate presets, event-table files and :class:`~pkpd.dosing.Regimen` objects side by side.

    Parameters
    ----------
    names_or_regimens : sequence
        Preset names (``"human_single"``, ``"daily:5"``), paths of event tables (:class:`pathlib.Path`, or text
        ending in .csv/.toml), :class:`~pkpd.dosing.Regimen` objects or ``(label, Regimen)`` pairs. Presets bring
        their own species and PK model; files and regimens use ``species`` and ``pk_model``.
    species : {"human", "mouse"}
    horizon_days : float, optional
        Length of every simulation, days (default :func:`default_horizon_h`: 21 d or the last dose + 14 d).
    weight_kg : float, optional
        Body weight of every subject of ``species`` (default 70 kg / 25 g).
    step_h : float
        Output step, h.
    params : mapping, optional
        Overrides by name: circuit parameters (:func:`circuits.overrides.circuit_space`) apply to every regimen;
        PK and receptor parameters (:func:`pkpd.overrides.pk_space`) to every regimen whose PK set has them (a
        name no regimen's set has is an error). :attr:`RegimenComparison.overrides` says which applied where.

    Raises
    ------
    ValueError
        Unknown preset (listing the valid ones), a bad event table (naming file, row and column), a dose after
        the horizon (naming the regimen or file row and the column ``time``), an unknown parameter name or a
        value outside its unit or bounds.
    """
    from pkpd.species import get_species

    from .translation import RegimenSpec, translate_many

    sp = get_species(species).name
    items = list(names_or_regimens)
    if not items:
        raise ValueError("regimens: expected at least one preset, event table or regimen")
    if horizon_days is not None and not (is_finite_real(horizon_days) and horizon_days > 0):
        raise ValueError(f"horizon: expected a positive number of days, got {horizon_days!r}")
    horizon_h = None if horizon_days is None else 24.0 * float(horizon_days)
    specs = []
    for k, it in enumerate(items):
        if isinstance(it, Regimen):
            specs.append(RegimenSpec(f"regimen {k + 1}", it, sp, pk_model, weight_kg))
        elif isinstance(it, tuple) and len(it) == 2 and isinstance(it[1], Regimen):
            specs.append(RegimenSpec(str(it[0]), it[1], sp, pk_model, weight_kg))
        elif isinstance(it, Path) or str(it).lower().endswith((".csv", ".toml")):
            specs.append(regimen_file_spec(it, species=sp, pk_model=pk_model, weight_kg=weight_kg,
                                           horizon_h=horizon_h))
        else:
            preset, _ = _parse(str(it))
            specs.append(preset_spec(str(it), weight_kg=weight_kg if preset.species == sp else None))
    if horizon_h is None:
        horizon_h = default_horizon_h([s.regimen for s in specs])
    for s in specs:
        late = [d for d in s.regimen if d.time_h > horizon_h]
        if late:
            from pkpd.units import format_hours

            raise ValueError(f"horizon: regimen {s.label!r} has a dose at {format_hours(late[0].time_h)}, after the "
                             f"horizon ({format_hours(horizon_h)}); expected --horizon >= "
                             f"{math.ceil(late[-1].time_h / 24.0):g}d")
    circuit, pk, record = _split_overrides(params, specs)
    results, control = translate_many(specs, horizon_h=horizon_h, step_h=step_h, progress=progress, params=circuit,
                                      pk_params=pk)
    return RegimenComparison(tuple(results), control, horizon_h, tuple(record))


def _split_overrides(params, specs):
    """``(CircuitParams or None, [PK overrides per spec], record)`` of raw overrides (see :func:`compare_regimens`)."""
    from pkpd.overrides import ParameterSpace, pk_space
    from pkpd.pk_models import get_pk_model

    if not params:
        return None, [{} for _ in specs], []
    from .overrides import circuit_space

    circ = circuit_space()
    circ = ParameterSpace(s for s in circ.specs.values() if s.target == "circuit")
    spaces = [pk_space(get_pk_model(s.pk_model, s.species)) for s in specs]
    circuit, pk, record = {}, [{} for _ in specs], []
    for name, value in params.items():
        hits = [k for k, sp in enumerate(spaces) if name in sp]
        if name in circ:
            v = circ.resolve({name: value})
            circuit.update(v)
            record += [r | {"regimen": None} for r in circ.record(v, {name: value})]
        elif hits:
            for k in hits:
                v = spaces[k].resolve({name: value})
                pk[k].update(v)
                record += [r | {"regimen": specs[k].label} for r in spaces[k].record(v, {name: value})]
        else:  # unknown everywhere: the closest names of every space
            ParameterSpace([*circ.specs.values(), *(s for sp in spaces for s in sp.specs.values())]).canonical(name)
    from .model import CircuitParams

    return (CircuitParams().replace(**circuit) if circuit else None), pk, record


def plot_regimens(result: RegimenComparison, path, *, close: bool = True):
    """Rescue R(t) of every regimen (days on x), the post-shock DA response relative to naive (log scale; dotted:
    naive, dashed: depressed) and an exposure panel (mPFC interneuron NMDA occupancy); saved with
    :func:`pkpd.figures.save_figure` (PNG + SVG). Returns the Figure (closed unless ``close=False``)."""
    from pkpd.figures import pyplot, save_figure

    plt = pyplot()
    fig, (ax, ax_da, ax_pk) = plt.subplots(3, 1, figsize=(8, 9.5), sharex=True,
                                           gridspec_kw={"height_ratios": [2, 1.2, 1.2]})
    for r in result.results:
        ln, = ax.plot(r.t_h / 24.0, r.rescue, lw=1.6, label=r.label)
        ax_da.plot(r.t_h / 24.0, r.da_response_rel, lw=1.2, color=ln.get_color())
        ax_pk.plot(r.t_h / 24.0, r.occupancy_interneuron, lw=1.0, color=ln.get_color(), label=r.label)
        for d in r.regimen:
            ax.axvline(d.time_h / 24.0, color=ln.get_color(), lw=0.4, alpha=0.4)
    c = result.control
    ax.plot(c["t_h"] / 24.0, c["rescue"], color="0.5", ls="--", lw=1.0, label="no drug")
    ax.axhline(0.5, color="0.3", ls=":", lw=0.8)
    ax.set_ylabel("circuit rescue (fraction of deficit restored)")
    ax.set_title("Regimens: circuit rescue from the chronic-stress state")
    ax.legend(fontsize=8, loc="upper right")
    ref = result.results[0].reference
    ax_da.axhline(1.0, color="0.3", ls=":", lw=0.8)
    ax_da.axhline(ref.get("r_rel", np.nan), color="0.5", ls="--", lw=0.8)
    ax_da.set_yscale("log")
    ax_da.set_ylabel("post-shock DA response\n/ naive (log)")
    ax_pk.set_ylabel("mPFC interneuron NMDA occupancy")
    ax_pk.set_xlabel("time (days)")
    ax_pk.set_ylim(0, 1)
    ax.set_xlim(0, result.horizon_h / 24.0)
    fig.tight_layout()
    params = {"regimens": [r.label for r in result.results], "horizon_h": result.horizon_h,
              "species": sorted({r.species for r in result.results})}
    save_figure(fig, path, title="Regimens: circuit rescue and exposure", parameters=params, close=close)
    return fig
