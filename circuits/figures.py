"""Figures of the Wu 2021 replication: the model's values beside the paper's (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["wu2021_figures", "plot_simulation"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    from pkpd.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    fig.clf()


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
    ax.set_ylabel("failure rate")
    ax.set_title(title)
    ax.legend(fontsize=7)


def wu2021_figures(summary: dict, details: dict, out: Path) -> list[Path]:
    """Write the replication figures into ``out``; return their paths."""
    from .experiments import PAPER

    plt = _plt()
    res = details["groups"]
    paths = []

    # 1. sLH and wLH failure rates
    fig, axs = plt.subplots(1, 2, figsize=(11, 4))
    s = res["slh_ket"]
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
    p = out / "fig1_failure_rates.png"
    _save(fig, p)
    paths.append(p)

    # 2. DA photometry: mean traces and the relative post-shock peak
    fig, axs = plt.subplots(1, 2, figsize=(11, 4))
    t = s.trial_t_s - 5.0
    base = s.traces[:, 0, (s.trial_t_s >= 0) & (s.trial_t_s < 5)].mean(axis=1, keepdims=True)
    for j, (lbl, c) in enumerate(zip(s.labels, ("k", "tab:red", "tab:green", "tab:olive", "tab:gray"))):
        axs[0].plot(t, ((s.traces[:, j] - base) / base).mean(0), color=c, label=lbl)
    axs[0].axvspan(0, 3, color="orange", alpha=0.2, label="shock")
    axs[0].set_xlabel("time from shock onset (s)")
    axs[0].set_ylabel("ΔF/F of DA population (naive baseline)")
    axs[0].set_title("biphasic shock response (sLH cohort)")
    axs[0].legend(fontsize=7)
    dr = summary["da_response"]
    axs[1].bar(["naive", "after LH", "ket 4h", "ket 24h"], [1.0, dr["lh"], dr["ket_4h"], dr["ket_24h"]],
               color=["k", "tab:red", "tab:green", "tab:olive"])
    axs[1].axhline(1.0, ls="--", color="gray")
    axs[1].set_ylabel("post-shock DA peak / same subject naive")
    axs[1].set_title("paper: blunted by LH, largely restored 4 h after ketamine")
    p = out / "fig2_da_response.png"
    _save(fig, p)
    paths.append(p)

    # 3. controls
    fig, ax = plt.subplots(figsize=(11, 4))
    c = summary["controls"]
    expect = {"da_silenced_ket_4h": "block", "cno_only_lh": "no change", "mpfc_silenced_ket_4h": "block",
              "vta_infusion_ket_4h": "block", "mpfc_infusion_ket_4h": "rescue",
              "drd1_activation_no_ket_4h": "rescue", "drd1_inhibition_ket_4h": "block",
              "mtor_block_ket_24h": "block", "spine_block_ket_4h": "rescue", "spine_block_ket_48h": "lost"}
    ks = list(c)
    ax.bar(np.arange(len(ks)), [c[k] for k in ks], color="tab:blue")
    ax.axhline(summary["slh"]["failure_rate"]["saline_4h"], ls="--", color="tab:red", label="model saline 4 h")
    ax.axhline(summary["slh"]["failure_rate"]["ket_4h"], ls="--", color="tab:green", label="model ketamine 4 h")
    ax.set_xticks(np.arange(len(ks)), [f"{k}\n(paper: {expect[k]})" for k in ks], rotation=35, ha="right",
                  fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("failure rate")
    ax.set_title("causal tests, sLH cohort (paper's qualitative result under each label)")
    ax.legend(fontsize=7)
    p = out / "fig3_controls.png"
    _save(fig, p)
    paths.append(p)

    # 4. dose response
    fig, ax = plt.subplots(figsize=(6, 4))
    d = summary["dose_response"]
    ax.semilogx(d["dose_mg_per_kg"], d["mpfc_peak_rel"], "o-", label="mPFC r_E, mean of 1st h / pre-dose")
    ax.semilogx(d["dose_mg_per_kg"], d["failure_rate_4h"], "s-", label="failure rate 4 h after dose")
    ax.axhline(1.0, ls=":", color="gray")
    ax.set_xlabel("ketamine dose (mg/kg i.p., HCl)")
    ax.set_title("paper (Moghaddam 1997): glutamate up at 10-30, none at 50, down at 200", fontsize=8)
    ax.legend(fontsize=7)
    p = out / "fig4_dose_response.png"
    _save(fig, p)
    paths.append(p)

    # 5. individual differences
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(details["baseline_signature"], details["ket_response"], s=10)
    ax.set_xlabel("pre-induction post-shock DA ΔF/F peak")
    ax.set_ylabel("ketamine response (failure LH − failure 4 h)")
    ax.set_title(f"R² model {summary['individual']['r2_baseline_signature_vs_ket_response']:.2f} "
                 f"(paper 0.72, a different signature)", fontsize=9)
    p = out / "fig5_individual.png"
    _save(fig, p)
    paths.append(p)

    # 6. slow states over the sLH + ketamine protocol
    fig, axs = plt.subplots(1, 2, figsize=(11, 4))
    for k in ("w", "rho", "A", "H"):
        axs[0].plot(s.t_h, s.long[k].mean(0), label=k)
    axs[0].axvline(s.protocol.drug_time_h, color="k", ls=":")
    axs[0].set_xlabel("time (h)")
    axs[0].set_title("slow states (cohort mean): efficacy w = ρA, spines ρ, potentiation A, stress H", fontsize=8)
    axs[0].legend(fontsize=7)
    sel = (s.t_h >= s.protocol.drug_time_h - 0.1) & (s.t_h <= s.protocol.drug_time_h + 2.0)
    tt = (s.t_h[sel] - s.protocol.drug_time_h) * 60
    axs[1].plot(tt, s.long["occupancy_mpfc_interneuron"][:, sel].mean(0), label="occupancy, interneuron")
    axs[1].plot(tt, s.long["occupancy_mpfc_pyramidal"][:, sel].mean(0), label="occupancy, pyramidal")
    axs[1].plot(tt, (s.long["r_d1"][:, sel] / s.long["theta"][:, sel]).mean(0) - 1, label="Drd1 output / ref − 1")
    axs[1].set_xlabel("minutes after 10 mg/kg")
    axs[1].set_title("paper: Drd1 activity not raised at 5-10 min, raised at 15-30 min", fontsize=8)
    axs[1].legend(fontsize=7)
    p = out / "fig6_timecourses.png"
    _save(fig, p)
    paths.append(p)
    plt.close("all")
    return paths


def plot_simulation(result: dict, path) -> Path:
    """Plot a :func:`circuits.experiments.simulate_protocol` result: occupancy, rates, slow states, P(fail)."""
    plt = _plt()
    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"plot: {str(path)!r} must end in .png, .pdf or .svg")
    tc = result["timecourse"]
    subj = np.asarray(tc["subject"])
    fig, axs = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for k in np.unique(subj):
        m = subj == k
        t = np.asarray(tc["time_h"])[m]
        a = 1.0 if len(np.unique(subj)) == 1 else 0.5
        axs[0, 0].plot(t, np.asarray(tc["occupancy_mpfc_interneuron"])[m], color="tab:purple", alpha=a)
        axs[0, 1].plot(t, np.asarray(tc["r_d1"])[m], color="tab:blue", alpha=a)
        axs[0, 1].plot(t, np.asarray(tc["r_da"])[m], color="tab:orange", alpha=a)
        axs[1, 0].plot(t, np.asarray(tc["w"])[m], color="tab:green", alpha=a)
        axs[1, 0].plot(t, np.asarray(tc["H"])[m], color="tab:red", alpha=a)
        axs[1, 1].plot(t, np.asarray(tc["p_fail"])[m], color="k", alpha=a)
    axs[0, 0].set_title("NMDA occupancy, mPFC interneurons")
    axs[0, 1].set_title("rates (Hz): mPFC Drd1 (blue), VTA DA (orange)")
    axs[1, 0].set_title("efficacy w (green), stress load H (red)")
    axs[1, 1].set_title("P(failure) of an escape trial")
    for ax in axs[1]:
        ax.set_xlabel("time (h)")
    fig.suptitle(result["protocol"]["name"])
    _save(fig, path)
    plt.close("all")
    return path
