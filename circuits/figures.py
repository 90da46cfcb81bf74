"""Figures of the circuit model: the Wu 2021 replication (the model's values beside the paper's) and the time
courses of ``ketamine simulate``.

Each ``*_figure`` function returns a matplotlib ``Figure`` (nothing written; tests read its axes), and
:func:`wu2021_figures` / :func:`plot_simulation` save them through :func:`pkpd.figures.save_figure` (PNG with an
SVG twin, the version and the parameters in the metadata). Every axis label names its unit.
:func:`write_wu2021` runs the replication and writes its summary and figures (figures sit above the experiments
they draw).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from pkpd.figures import check_figure_path, pyplot, save_figure

from .experiments import PAPER, wu2021

__all__ = ["write_wu2021", "wu2021_figures", "plot_simulation", "failure_rates_figure", "da_trace_figure",
           "controls_figure", "dose_figure", "individual_figure", "timecourses_figure", "simulation_figure",
           "WU2021_FIGURES", "CONTROL_EXPECTATIONS"]

#: the files :func:`wu2021_figures` writes (each a PNG with an SVG twin), in order
WU2021_FIGURES = ("fig1_failure_rates.png", "fig2_da_response.png", "fig3_controls.png", "fig4_dose_response.png",
                  "fig5_individual.png", "fig6_timecourses.png")

#: the three states of the biphasic DA figure: test label of the sLH + ketamine group -> legend, colour
DA_TRACE_TESTS = {"baseline": ("before induction", "k"), "lh": ("after induction (LH)", "tab:red"),
                  "4h": ("4 h after ketamine 10 mg/kg", "tab:green")}

#: the paper's qualitative result of each causal test (summary["controls"] key -> block / rescue / …)
CONTROL_EXPECTATIONS = {"da_silenced_ket_4h": "block", "cno_only_lh": "no change", "mpfc_silenced_ket_4h": "block",
                        "vta_infusion_ket_4h": "block", "mpfc_infusion_ket_4h": "rescue",
                        "drd1_activation_no_ket_4h": "rescue", "drd1_inhibition_ket_4h": "block",
                        "mtor_block_ket_24h": "block", "spine_block_ket_4h": "rescue", "spine_block_ket_48h": "lost"}


def _trial_timing() -> tuple[float, float]:
    """Shock onset and duration (s) of the readout trials: :func:`circuits.model.run_trials`' defaults."""
    from .model import run_trials

    p = inspect.signature(run_trials).parameters
    return float(p["onset_s"].default), float(p["shock_s"].default)


def _bars(ax, labels, model, sd, paper, title):
    x = np.arange(len(labels))
    ax.bar(x - 0.2, model, 0.4, yerr=sd, capsize=3, label="model (cohort mean ± SD)", color="tab:blue")
    pv = [np.nan if v is None else v for v in paper]
    ax.bar(x + 0.2, pv, 0.4, label="Wu et al. 2021", color="tab:gray")
    for i, v in enumerate(paper):
        if v is None:
            ax.text(x[i] + 0.2, 0.02, "qual.", ha="center", fontsize=7, rotation=90)
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("failure rate (fraction of escape trials)")
    ax.set_title(title)
    ax.legend(fontsize=7)


def failure_rates_figure(summary: dict, details: dict):
    """sLH and wLH failure rates of the model (cohort mean ± SD) beside the paper's, one panel each."""
    res = details["groups"]
    fig, axs = pyplot().subplots(1, 2, figsize=(11, 4))
    keys = ["baseline", "lh", "ket_4h", "ket_24h", "ket_72h", "saline_4h"]
    cols = {"baseline": ("slh_ket", "baseline"), "lh": ("slh_ket", "lh"), "ket_4h": ("slh_ket", "4h"),
            "ket_24h": ("slh_ket", "24h"), "ket_72h": ("slh_ket", "72h"), "saline_4h": ("slh_saline", "4h")}
    sd = [float(np.std(res[g].failure[:, res[g].labels.index(lbl)])) for g, lbl in cols.values()]
    _bars(axs[0], keys, [summary["slh"]["failure_rate"][k] for k in keys], sd,
          [PAPER["slh.failure_rate"][k] for k in keys], "strong LH (10 mg/kg i.p. at 96 h)")
    w = res["wlh_ket"]
    wk = ["baseline", "lh", "ket_4h", "ket_24h"]
    wsd = [float(np.std(w.failure[:, :2].mean(1))), float(np.std(w.failure[:, 2:4].mean(1))),
           float(np.std(w.failure[:, 4])), float(np.std(w.failure[:, 5]))]
    _bars(axs[1], ["days 1-2", "days 3-4", "ket 4h (test 5)", "ket 24h (test 6)"],
          [summary["wlh"]["failure_rate"][k] for k in wk], wsd, [PAPER["wlh.failure_rate"][k] for k in wk],
          "weak LH")
    fig.suptitle("escape failures: model beside Wu et al. 2021")
    return fig


def da_trace_figure(summary: dict, details: dict, group: str = "slh_ket"):
    """The biphasic DA response to a footshock before induction, after induction and 4 h after ketamine.

    Left: the cohort-mean photometry-like trace (ΔF/F in % of each subject's pre-shock baseline in its naive
    trial) against time from shock onset (s), ± SD over subjects (n > 1), the shock window shaded: a dip during
    the shock, a rise after it, blunted by learned helplessness and restored by ketamine. Right: the post-shock
    peak relative to the same subject naive (mean ± SD).
    """
    g = details["groups"][group]
    if g.traces is None:
        raise ValueError(f"figures: group {group!r} holds no trial traces (run_groups(..., keep_traces=True))")
    onset, shock = _trial_timing()
    t = np.asarray(g.trial_t_s) - onset
    pre = (t >= -onset) & (t < 0)
    base = g.traces[:, g.labels.index("baseline")][:, pre].mean(axis=1, keepdims=True)
    fig, axs = pyplot().subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    ax = axs[0]
    ax.axvspan(0, shock, color="orange", alpha=0.2, label=f"shock ({shock:g} s)")
    for lbl, (name, colour) in DA_TRACE_TESTS.items():
        dff = 100.0 * (g.traces[:, g.labels.index(lbl)] - base) / base
        mean = dff.mean(0)
        ax.plot(t, mean, color=colour, label=name)
        if dff.shape[0] > 1:
            sd = dff.std(0)
            ax.fill_between(t, mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
    ax.axhline(0.0, color="gray", lw=0.5)
    ax.set_xlabel("time from shock onset (s)")
    ax.set_ylabel("DA neuron ΔF/F (% of naive pre-shock baseline)")
    n = g.traces.shape[0]
    ax.set_title(f"biphasic shock response, sLH ({'typical mouse' if n == 1 else f'mean ± SD of {n} mice'})",
                 fontsize=9)
    ax.legend(fontsize=7)
    ax = axs[1]
    labels = ["baseline", "lh", "4h", "24h"]
    names = ["naive", "after LH", "ket 4 h", "ket 24 h"]
    vals = [g.r_rel[:, g.labels.index(lb)] for lb in labels]
    ax.bar(names, [float(v.mean()) for v in vals], yerr=[float(v.std()) for v in vals], capsize=3,
           color=["k", "tab:red", "tab:green", "tab:olive"])
    ax.axhline(1.0, ls="--", color="gray")
    ax.set_ylabel("post-shock DA peak / same mouse naive (ratio)")
    ax.set_title("paper: blunted by LH, largely restored 4 h after ketamine", fontsize=9)
    return fig


def controls_figure(summary: dict, details: dict | None = None):
    """Failure rates 4 h (or 24/48 h) after each causal manipulation, labelled with the paper's qualitative
    result, with the model's saline and ketamine rates as reference lines."""
    fig, ax = pyplot().subplots(figsize=(11, 4))
    c = summary["controls"]
    expect = CONTROL_EXPECTATIONS
    ks = list(c)
    ax.bar(np.arange(len(ks)), [c[k] for k in ks], color="tab:blue")
    ax.axhline(summary["slh"]["failure_rate"]["saline_4h"], ls="--", color="tab:red", label="model saline 4 h")
    ax.axhline(summary["slh"]["failure_rate"]["ket_4h"], ls="--", color="tab:green", label="model ketamine 4 h")
    ax.set_xticks(np.arange(len(ks)), [f"{k}\n(paper: {expect.get(k, '?')})" for k in ks], rotation=35,
                  ha="right", fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("failure rate (fraction of escape trials)")
    ax.set_title("causal tests, sLH cohort (paper's qualitative result under each label)")
    ax.legend(fontsize=7)
    return fig


def dose_figure(summary: dict, details: dict | None = None):
    """The replication's dose grid: the mPFC surge (relative to pre-dose) and the failure rate 4 h after the
    dose, against the dose (mg/kg i.p., HCl; log axis)."""
    fig, ax = pyplot().subplots(figsize=(6, 4))
    d = summary["dose_response"]
    ax.semilogx(d["dose_mg_per_kg"], d["mpfc_peak_rel"], "o-", label="mPFC r_E, mean of 1st h / pre-dose (ratio)")
    ax.semilogx(d["dose_mg_per_kg"], d["failure_rate_4h"], "s-", label="failure rate 4 h after dose (fraction)")
    ax.axhline(1.0, ls=":", color="gray")
    ax.set_xlabel("ketamine dose (mg/kg i.p., HCl)")
    ax.set_ylabel("mPFC surge (ratio to pre-dose), failure rate (fraction)")
    ax.set_title("paper (Moghaddam 1997): glutamate up at 10-30, none at 50, down at 200", fontsize=8)
    ax.legend(fontsize=7)
    return fig


def individual_figure(summary: dict, details: dict):
    """Individual differences with the paper's signature (Wu 2021: the baseline distance between escape and failure
    mean traces predicts helplessness, R² 0.63, and the ketamine response, R² 0.72).

    Left: the naive escape trial (shock ended at the mean escape latency) and failure trial (10-s shock) as ΔF/F
    (% of each trial's pre-shock baseline), cohort mean, the 8-s window of the signature shaded. Then each mouse's
    signature (RMS ΔF/F difference over that window, %) against its failure rate after induction, its ketamine
    response (failure rate after LH − 4 h after ketamine) and its failure rate 4 h after ketamine, with the
    model's R² beside the paper's (our sources do not say which of the last two measures the paper's 0.72 used).
    """
    from .behavior import dff

    sig = details["signature_trials"]
    t = np.asarray(sig["t_s"]) - sig["onset_s"]
    esc = 100.0 * dff(sig["escape"], sig["t_s"], sig["onset_s"])
    fail = 100.0 * dff(sig["failure"], sig["t_s"], sig["onset_s"])
    lat = float(np.mean(sig["escape_latency_s"]))
    fig, axs = pyplot().subplots(1, 4, figsize=(19, 4.2), layout="constrained")
    ax = axs[0]
    ax.axvspan(0, 8.0, color="gray", alpha=0.12, label="signature window (8 s)")
    ax.axvline(lat, color="tab:blue", ls=":", lw=1)
    ax.axvline(float(sig["failure_shock_s"]), color="tab:red", ls=":", lw=1)
    ax.plot(t, esc.mean(0), color="tab:blue", label=f"escape (shock ends at {lat:.1f} s)")
    ax.plot(t, fail.mean(0), color="tab:red", label=f"failure ({float(sig['failure_shock_s']):g}-s shock)")
    ax.axhline(0.0, color="gray", lw=0.5)
    ax.set_xlabel("time from shock onset (s)")
    ax.set_ylabel("DA neuron ΔF/F (% of pre-shock baseline)")
    ax.set_title(f"naive escape vs failure trials (mean of {esc.shape[0]} mice)", fontsize=9)
    ax.legend(fontsize=7)
    x = 100.0 * np.asarray(details["baseline_signature"])
    ind = summary["individual"]
    for ax, y, key, paper, ylabel in (
            (axs[1], details["helplessness"], "r2_baseline_signature_vs_helplessness", 0.63,
             "failure rate after induction (fraction)"),
            (axs[2], details["ket_response"], "r2_baseline_signature_vs_ket_response", 0.72,
             "ketamine response (failure rate LH − 4 h, fraction)"),
            (axs[3], details["failure_after_ket"], "r2_baseline_signature_vs_failure_after_ket", 0.72,
             "failure rate 4 h after ketamine (fraction)")):
        ax.scatter(x, y, s=10)
        ax.set_xlabel("baseline escape–failure distance (RMS ΔF/F, %)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"R² model {ind[key]:.2f} (paper {paper:.2f})", fontsize=9)
    return fig


def timecourses_figure(summary: dict, details: dict):
    """Left: the slow states over the sLH + ketamine protocol (cohort mean, h). Right: occupancy and the Drd1
    surge over the first 2 h after the dose (min)."""
    s = details["groups"]["slh_ket"]
    fig, axs = pyplot().subplots(1, 2, figsize=(11, 4))
    for k in ("w", "rho", "A", "H"):
        axs[0].plot(s.t_h, s.long[k].mean(0), label=k)
    axs[0].axvline(s.protocol.drug_time_h, color="k", ls=":")
    axs[0].set_xlabel("time (h)")
    axs[0].set_ylabel("slow state (dimensionless)")
    axs[0].set_title("slow states (cohort mean): efficacy w = ρA, spines ρ, potentiation A, stress H", fontsize=8)
    axs[0].legend(fontsize=7)
    sel = (s.t_h >= s.protocol.drug_time_h - 0.1) & (s.t_h <= s.protocol.drug_time_h + 2.0)
    tt = (s.t_h[sel] - s.protocol.drug_time_h) * 60
    axs[1].plot(tt, s.long["occupancy_mpfc_interneuron"][:, sel].mean(0), label="occupancy, interneuron")
    axs[1].plot(tt, s.long["occupancy_mpfc_pyramidal"][:, sel].mean(0), label="occupancy, pyramidal")
    axs[1].plot(tt, (s.long["r_d1"][:, sel] / s.long["theta"][:, sel]).mean(0) - 1, label="Drd1 output / ref − 1")
    axs[1].set_xlabel("time after 10 mg/kg (min)")
    axs[1].set_ylabel("occupancy (fraction) / relative change")
    axs[1].set_title("paper: Drd1 activity not raised at 5-10 min, raised at 15-30 min", fontsize=8)
    axs[1].legend(fontsize=7)
    return fig


_WU2021_MAKERS = (failure_rates_figure, da_trace_figure, controls_figure, dose_figure, individual_figure,
                  timecourses_figure)


def wu2021_figures(summary: dict, details: dict, out: Path, *, svg: bool = True) -> list[Path]:
    """Write the replication figures (:data:`WU2021_FIGURES`, each PNG with an SVG twin) into ``out``; return the
    PNG paths. The metadata holds the version, the cohort size and seed and the model's summary."""
    out = Path(out)
    params = {"experiment": "wu2021", "n": details.get("n"), "seed": details.get("seed")}
    paths = []
    for name, make in zip(WU2021_FIGURES, _WU2021_MAKERS):
        fig = make(summary, details)
        p = out / name
        save_figure(fig, p, parameters=params, svg=svg)
        paths.append(p)
    return paths


def write_wu2021(out_dir, n: int = 100, seed: int = 0, progress=None) -> dict:
    """Run :func:`circuits.experiments.wu2021`, write ``summary.json`` (atomically) and the figures into
    ``out_dir``; return the summary."""
    from pkpd.io import write_json
    from pkpd.parameters import is_integer

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {str(out)!r} exists and is not a directory")
    if not is_integer(n) or n < 1:
        raise ValueError(f"n: expected a cohort of at least 1 subject, got {n!r}")
    out.mkdir(parents=True, exist_ok=True)
    summary, details = wu2021(n, seed, progress=progress)
    write_json(summary, out / "summary.json")
    wu2021_figures(summary, details, out)
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
