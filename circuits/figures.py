"""Figures of the circuit model: the Wu 2021 replication (the model's values beside the paper's) and the time
courses of ``ketamine simulate``.

Each ``*_figure`` function returns a matplotlib ``Figure`` (nothing written; tests read its axes), and
:func:`wu2021_figures` / :func:`plot_simulation` save them through :func:`pkpd.figures.save_figure` (PNG with an
SVG twin, the version and the parameters in the metadata). Every axis label names its unit.
:func:`write_wu2021` runs the replication (:mod:`circuits.replication`, which the figures sit above) and writes its
summary and these figures.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from pkpd.figures import check_figure_path, pyplot, save_figure

__all__ = ["write_wu2021", "wu2021_figures", "plot_simulation", "keyed_figure", "traces_figure", "individual_figure",
           "timecourses_figure", "simulation_figure", "WU2021_FIGURES", "DA_TRACE_TESTS"]

#: the files :func:`wu2021_figures` writes (each a PNG with an SVG twin), in order
WU2021_FIGURES = ("fig1_failure_rates.png", "fig2_photometry.png", "fig3_controls.png", "fig4_drd1_and_literature.png",
                  "fig5_individual.png", "fig6_timecourses.png")

#: the three states of the sLH photometry: readout label of the sLH + ketamine group -> legend, colour
DA_TRACE_TESTS = {"ind_start": ("start of induction", "k"), "ind_end": ("end of induction (day 2)", "tab:red"),
                  "4h": ("4 h after ketamine 10 mg/kg", "tab:green")}


def _trial_timing() -> tuple[float, float]:
    """Shock onset and duration (s) of the readout trials: :func:`circuits.model.run_trials`' defaults."""
    from .model import run_trials

    p = inspect.signature(run_trials).parameters
    return float(p["onset_s"].default), float(p["shock_s"].default)


def _paper_text(p: dict) -> str:
    v = p.get("value")
    txt = p.get("direction") or ""
    if v is not None and not txt:
        txt = f"{v:g}"
    return f"{txt} [{p['panel']}]"


def _keyed_bars(ax, summary: dict, keys: list, ylabel: str, title: str, ref: dict | None = None):
    """One bar per summary key (the model), the paper's number as a grey bar beside it where it has one, and under
    each bar the paper's value or direction and whether the model meets it (calibration / met / MISSED)."""
    from .replication import CALIBRATION, assess

    ok = assess(summary)
    paper = summary.get("paper") or {}
    x = np.arange(len(keys))
    vals, extra, lo, hi = [], {}, [], []
    for k in keys:
        v, parent = summary, None
        for part in k.split("."):
            v, parent = v[part], v
        ci = parent.get(f"{k.split('.')[-1]}_ci90") if isinstance(parent, dict) else None
        if isinstance(v, dict):  # the R² over n = 11 subsamples: one bar (wLH), both values in the label
            v = {a: b for a, b in v.items() if not a.endswith("_ci90")}
            extra[k] = ", ".join(f"{a}: {b:.2f}" for a, b in v.items())
            v = next(iter(v.values()))
            ci = None
        vals.append(float(v))
        ok_ci = isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(c, (int, float)) for c in ci)
        lo.append(float(v) - ci[0] if ok_ci else np.nan)
        hi.append(ci[1] - float(v) if ok_ci else np.nan)
    posterior = bool(np.isfinite(lo).any())
    ax.bar(x - 0.2, vals, 0.4, color="tab:blue",
           label="model (median over posterior draws; 90 % interval)" if posterior else "model (cohort mean)")
    if posterior:
        ax.errorbar(x - 0.2, vals, yerr=[lo, hi], fmt="none", ecolor="black", capsize=3, lw=1)
    pv = [paper.get(k, {}).get("value") for k in keys]
    ax.bar(x + 0.2, [np.nan if v is None else v for v in pv], 0.4, color="tab:gray", label="Wu et al. 2021")
    for name, (val, colour) in (ref or {}).items():
        ax.axhline(val, ls="--", color=colour, lw=1, label=name)
    labels = []
    for k in keys:
        mark = "calibration" if k in CALIBRATION else ("met" if ok[k] else "MISSED")
        more = f"\nmodel {extra[k]}" if k in extra else ""
        labels.append(f"{k.split('.')[-1]}\npaper: {_paper_text(paper.get(k, {'panel': '?'}))}\n[{mark}]{more}")
    ax.set_xticks(x, labels, rotation=0, fontsize=6)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def keyed_figure(summary: dict, sections: list, *, width: float = 16.0):
    """A figure of :func:`_keyed_bars` panels, one per ``(keys, ylabel, title, ref)`` in ``sections``."""
    fig, axs = pyplot().subplots(len(sections), 1, figsize=(width, 4.2 * len(sections)), layout="constrained")
    for ax, (keys, ylabel, title, ref) in zip(np.atleast_1d(axs), sections):
        _keyed_bars(ax, summary, keys, ylabel, title, ref)
    return fig


def _section(summary, prefix):
    from .replication import summary_keys

    return [k for k in summary_keys() if k.startswith(prefix)]


def failure_rates_figure(summary: dict, details: dict | None = None):
    """sLH and wLH failure rates of the model beside the paper's, every key of ``slh`` and ``wlh``."""
    return keyed_figure(summary, [
        (_section(summary, "slh."), "failure rate (fraction of trials)", "strong LH (10-s trials)", None),
        (_section(summary, "wlh."), "failure rate (fraction of trials)", "weak LH (3-s trials)", None)])


def controls_figure(summary: dict, details: dict | None = None):
    """The causal tests (Wu 2021 Figs 3, 5, 6), with the model's sLH baseline and LH rates as reference lines."""
    f = summary["slh"]["failure_rate"]
    ref = {"model LH": (f["lh"], "tab:red"), "model baseline": (f["baseline"], "k")}
    return keyed_figure(summary, [(_section(summary, "controls."), "failure rate (fraction of trials)",
                                   "causal tests (sLH unless stated)", ref)], width=20)


def drd1_literature_figure(summary: dict, details: dict | None = None):
    """mPFC Drd1 Ca²⁺ in 5-min bins after 10 mg/kg (Wu 2021 FS6-1) and the literature experiments (not Wu 2021)."""
    f = summary["slh"]["failure_rate"]
    fig = keyed_figure(summary, [
        (_section(summary, "mpfc_drd1_ca."), "Drd1 activity / pre-drug (ratio)",
         "mPFC Drd1 neurons after 10 mg/kg i.p. (naive mice)", {"no change": (1.0, "gray")}),
        ([k for k in _section(summary, "literature.") if k != "literature.dose_response"],
         "failure rate (fraction of trials)", "literature beyond Wu 2021 (sLH + 10 mg/kg)",
         {"model LH": (f["lh"], "tab:red"), "model ketamine 4 h": (f["ket_4h"], "tab:green")}),
        ([], "ratio, fraction", "", None)])
    ax = fig.axes[-1]
    ax.clear()
    d = summary["literature"]["dose_response"]
    ax.semilogx(d["dose_mg_per_kg"], d["mpfc_peak_rel"], "o-", label="mPFC r_E, largest 20-min mean in 2 h / "
                "pre-dose (ratio)")
    ax.semilogx(d["dose_mg_per_kg"], d["failure_4h"], "s-", label="failure rate 4 h after the dose (fraction)")
    ax.axhline(1.0, ls=":", color="gray")
    ax.set_xlabel("ketamine dose (mg/kg i.p., HCl)")
    ax.set_ylabel("surge (ratio), failure rate (fraction)")
    ax.set_title("dose-response; paper (Moghaddam et al. 1997, not Wu 2021): glutamate up at 10-30, down at "
                 "200 mg/kg; no benefit at anaesthetic doses (assumed reading)", fontsize=8)
    ax.legend(fontsize=7)
    return fig


def traces_figure(summary: dict, details: dict):
    """Photometry as the paper records it. Top left: sLH inescapable 3-s shocks at the start and end of induction
    and 4 h after ketamine (cohort-mean ΔF/F, %). Top right: wLH failure (3-s shock) and escape trials at days 1-2,
    3-4 and test 5. Bottom: every photometry key beside the paper's direction."""
    from .behavior import dff

    fig = pyplot().figure(figsize=(16, 9), layout="constrained")
    gs = fig.add_gridspec(2, 2)
    ax = fig.add_subplot(gs[0, 0])
    g = details["groups"]["slh_ket"]
    onset, shock = _trial_timing()
    t = np.asarray(g.trial_t_s) - onset
    ax.axvspan(0, shock, color="orange", alpha=0.2, label=f"shock ({shock:g} s)")
    for lbl, (name, colour) in DA_TRACE_TESTS.items():
        tr = 100.0 * dff(g.traces[:, g.labels.index(lbl)], g.trial_t_s, onset)
        ax.plot(t, np.nanmean(tr, axis=0), color=colour, label=name)
    ax.axhline(0.0, color="gray", lw=0.5)
    ax.set_xlabel("time from shock onset (s)")
    ax.set_ylabel("DA neuron ΔF/F (%)")
    ax.set_title("sLH, inescapable 3-s shocks (paper Fig 1d: biphasic; blunted by induction; restored at 4 h)",
                 fontsize=9)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(gs[0, 1])
    wt = details["wlh_trials"]
    tt = np.asarray(wt["test1"]["t_s"]) - wt["test1"]["onset_s"]
    ax.axvspan(0, wt["test1"]["failure_shock_s"], color="orange", alpha=0.2, label="failure shock (3 s)")
    for lbl, name, colour in (("test1", "days 1-2", "k"), ("test3", "days 3-4", "tab:red"),
                              ("test5", "ketamine (test 5)", "tab:green")):
        w = wt[lbl]
        ax.plot(tt, 100 * np.nanmean(dff(w["failure"], w["t_s"], w["onset_s"]), axis=0), color=colour,
                label=f"failure, {name}")
        ax.plot(tt, 100 * np.nanmean(dff(w["escape"], w["t_s"], w["onset_s"]), axis=0), color=colour, ls="--",
                label=f"escape, {name}")
    ax.axhline(0.0, color="gray", lw=0.5)
    ax.set_xlabel("time from shock onset (s)")
    ax.set_ylabel("DA neuron ΔF/F (%)")
    ax.set_title("wLH escape (dashed) and failure trials (paper Fig 2c: failure dip lost in wLH, back after "
                 "ketamine; escape unchanged)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    ax = fig.add_subplot(gs[1, :])
    _keyed_bars(ax, summary, _section(summary, "photometry."), "ΔF/F metric / same mice at start (ratio)",
                "photometry keys (relative to the start of induction, sLH, or to days 1-2, wLH)",
                {"no change": (1.0, "gray")})
    return fig


def individual_figure(summary: dict, details: dict):
    """Individual differences as Wu 2021 Fig 2g-i (wLH): each mouse's baseline escape–failure trace distance against
    its failures on days 3-4 and after ketamine (test 5), the post-ketamine distance against post-ketamine failures,
    with the model's R² beside the paper's; and the R² over random subsamples of n = 11 mice."""
    ind = summary["individual"]
    fig = pyplot().figure(figsize=(19, 9), layout="constrained")
    gs = fig.add_gridspec(2, 4)
    axs = [fig.add_subplot(gs[0, i]) for i in range(4)]
    _keyed_bars(fig.add_subplot(gs[1, :]), summary, _section(summary, "individual."), "R², slope sign (1)",
                "individual differences, wLH (bars of the n = 11 keys: distance vs days 3-4 failures)", None)
    for ax, x, y, key, paper, xl, yl in (
            (axs[0], details["distance_baseline"], details["wlh_failure_day3_4"], "r2_distance_vs_wlh_failures",
             0.629, "baseline distance", "failures days 3-4"),
            (axs[1], details["distance_baseline"], details["wlh_failure_day5"], "r2_distance_vs_ket_failures", 0.715,
             "baseline distance", "failures after ketamine (test 5)"),
            (axs[2], details["distance_ket"], details["wlh_failure_day5"], "r2_ket_distance_vs_ket_failures", 0.399,
             "distance after ketamine", "failures after ketamine (test 5)")):
        ax.scatter(100 * np.asarray(x), y, s=10)
        ax.set_xlabel(f"{xl} (RMS ΔF/F, %)")
        ax.set_ylabel(f"{yl} (fraction)")
        ax.set_title(f"R² model {ind[key]:.2f} (paper {paper:.3f}, n = 11)", fontsize=9)
    ax = axs[3]
    for (name, v), colour, paper in zip(details["r2_n11"].items(), ("tab:blue", "tab:orange"), (0.629, 0.715)):
        ax.hist(v[np.isfinite(v)], bins=30, range=(0, 1), alpha=0.5, color=colour, label=f"{name} (model)")
        ax.axvline(paper, color=colour, ls="--", label=f"paper {paper}")
    ax.set_xlabel("R² over random subsamples of 11 mice (1)")
    ax.set_ylabel("subsamples (count)")
    ax.legend(fontsize=7)
    return fig


def timecourses_figure(summary: dict, details: dict):
    """Left: the slow states over the sLH + ketamine protocol (cohort mean, h). Right: occupancy and the Drd1
    output over the first 2 h after the dose (min), relative to its activity reference."""
    s = details["groups"]["slh_ket"]
    fig, axs = pyplot().subplots(1, 2, figsize=(11, 4))
    for k in ("w", "rho", "A", "H"):
        axs[0].plot(s.t_h, np.nanmean(s.long[k], axis=0), label=k)
    axs[0].axvline(s.protocol.drug_time_h, color="k", ls=":")
    axs[0].set_xlabel("time (h)")
    axs[0].set_ylabel("slow state (dimensionless)")
    axs[0].set_title("slow states (cohort mean): efficacy w = ρA, spines ρ, potentiation A, stress H", fontsize=8)
    axs[0].legend(fontsize=7)
    sel = (s.t_h >= s.protocol.drug_time_h - 0.1) & (s.t_h <= s.protocol.drug_time_h + 2.0)
    tt = (s.t_h[sel] - s.protocol.drug_time_h) * 60
    axs[1].plot(tt, np.nanmean(s.long["occupancy_mpfc_interneuron"][:, sel], axis=0), label="occupancy, interneuron")
    axs[1].plot(tt, np.nanmean(s.long["occupancy_mpfc_pyramidal"][:, sel], axis=0), label="occupancy, pyramidal")
    axs[1].plot(tt, np.nanmean(s.long["r_d1"][:, sel] / s.long["theta"][:, sel], axis=0) - 1,
                label="Drd1 output / ref − 1")
    axs[1].set_xlabel("time after 10 mg/kg (min)")
    axs[1].set_ylabel("occupancy (fraction) / relative change")
    axs[1].set_title("paper (FS6-1): Drd1 activity not raised at 5-10 min, raised at 15-30 min", fontsize=8)
    axs[1].legend(fontsize=7)
    return fig


_WU2021_MAKERS = (failure_rates_figure, traces_figure, controls_figure, drd1_literature_figure, individual_figure,
                  timecourses_figure)


def wu2021_figures(summary: dict, details: dict, out: Path, *, svg: bool = True) -> list[Path]:
    """Write the replication figures (:data:`WU2021_FIGURES`, each PNG with an SVG twin) into ``out``; return the
    PNG paths. Every key of the summary appears in one of them beside the paper's value or direction."""
    out = Path(out)
    params = {"experiment": "wu2021", "n": details.get("n"), "seed": details.get("seed")}
    paths = []
    for name, make in zip(WU2021_FIGURES, _WU2021_MAKERS):
        fig = make(summary, details)
        p = out / name
        save_figure(fig, p, parameters=params, svg=svg)
        pyplot().close(fig)
        paths.append(p)
    return paths


def write_wu2021(out_dir, n: int = 100, seed: int = 0, progress=None, params=None, posterior=None,
                 draws: int = 20) -> dict:
    """Run :func:`wu2021` (or, with a ``posterior`` record, :func:`circuits.posterior.wu2021_posterior` with
    ``draws`` parameter sets), write ``summary.json`` (atomically) and the figures into ``out_dir``; return the
    summary."""
    from pathlib import Path

    from pkpd.io import write_json
    from pkpd.parameters import is_integer

    from .replication import wu2021

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {str(out)!r} exists and is not a directory")
    if not is_integer(n) or n < 1:
        raise ValueError(f"n: expected a cohort of at least 1 subject, got {n!r}")
    out.mkdir(parents=True, exist_ok=True)
    if posterior is None:
        summary, details = wu2021(n, seed, progress=progress, params=params)
    else:
        from .posterior import wu2021_posterior

        summary, details = wu2021_posterior(n, seed, posterior, draws, progress=progress, params=params)
    write_json(summary, out / "summary.json")
    wu2021_figures(summary, details, out)  # the failure-rate bars carry a posterior run's `<key>_ci90`
    return summary


def simulation_figure(result: dict):
    """A :func:`circuits.experiments.simulate_protocol` result as four panels over time (h): NMDA occupancy,
    rates (Hz), efficacy and stress load (dimensionless), P(failure)."""
    tc = result["timecourse"]
    subj = np.asarray(tc["subject"])
    fig, axs = pyplot().subplots(2, 2, figsize=(11, 7), sharex=True)
    one = len(np.unique(subj)) == 1
    for k in np.unique(subj):
        m = subj == k
        t = np.asarray(tc["time_h"])[m]
        a = 1.0 if one else 0.5
        axs[0, 0].plot(t, np.asarray(tc["occupancy_mpfc_interneuron"])[m], color="tab:purple", alpha=a)
        axs[0, 1].plot(t, np.asarray(tc["r_d1"])[m], color="tab:blue", alpha=a)
        axs[0, 1].plot(t, np.asarray(tc["r_da"])[m], color="tab:orange", alpha=a)
        axs[1, 0].plot(t, np.asarray(tc["w"])[m], color="tab:green", alpha=a)
        axs[1, 0].plot(t, np.asarray(tc["H"])[m], color="tab:red", alpha=a)
        axs[1, 1].plot(t, np.asarray(tc["p_fail"])[m], color="k", alpha=a)
    axs[0, 0].set_title("NMDA occupancy, mPFC interneurons")
    axs[0, 0].set_ylabel("occupancy (fraction)")
    axs[0, 1].set_title("mPFC Drd1 output (blue), VTA DA (orange)")
    axs[0, 1].set_ylabel("firing rate (Hz)")
    axs[1, 0].set_title("efficacy w (green), stress load H (red)")
    axs[1, 0].set_ylabel("w, H (dimensionless)")
    axs[1, 1].set_title("P(failure) of an escape trial")
    axs[1, 1].set_ylabel("failure probability (fraction)")
    for ax in axs[1]:
        ax.set_xlabel("time (h)")
    fig.suptitle(result["protocol"]["name"])
    return fig


def plot_simulation(result: dict, path, *, svg: bool = True, command: str | None = None) -> Path:
    """Draw :func:`simulation_figure` to ``path`` (.png, .pdf or .svg; a PNG gets an SVG twin unless ``svg`` is
    false) with the protocol (sessions, tests, doses, manipulations) and ``command`` (the command line that drew
    it, if given) in the metadata."""
    path = check_figure_path(path)
    params = {"protocol": result["protocol"],
              "subjects": int(len(np.unique(np.asarray(result["timecourse"]["subject"]))))}
    if command:
        params["command"] = command
    save_figure(simulation_figure(result), path, title=f"ketamine simulate: {result['protocol']['name']}",
                parameters=params, svg=svg)
    return path
