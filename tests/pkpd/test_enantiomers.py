"""The enantiomer-resolved set (hasan2021): each enantiomer's published CL and Vss, the closed form of the
ketamine → norketamine → hydroxynorketamine chain, mass balance, racemic = S + R, occupancy from the four free
concentrations, the HNK calibration, and bad input.

Everything runs on the exact (matrix-exponential) backend: no numba compilation.
"""

import math

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from pkpd import closed_form as cf
from pkpd.dosing import Regimen
from pkpd.pk import (ENANTIOMER_PREFIXES, check_columns, ketamine_system, parameter_values, parameter_vector,
                     simulate_pk)
from pkpd.pk_models import PK_MODELS
from pkpd.receptor import NmdaParams, competitive_occupancy
from pkpd.species import Subject

M = PK_MODELS["hasan2021"]
HUMAN = Subject("human")
KET = ("central", "peripheral1", "peripheral2", "liver", "brain")
runner = CliRunner()


@pytest.fixture(scope="module")
def system():
    s = ketamine_system(False, True)
    vals = parameter_values(M, HUMAN)
    return s, parameter_vector(s, vals), vals


def _unit_auc(system, state, keep):
    s, p, _ = system
    y0 = np.zeros(s.n_states)
    y0[s.state_index(state)] = 1.0
    return cf.auc_inf_linear(s, p, y0, exclude=[x for x in s.state_names if x not in keep])


@pytest.mark.parametrize("e, cl_mL_min, vss_L_kg", [("s", 1620.0, 6.6), ("r", 1530.0, 5.6)])
def test_each_enantiomer_has_its_published_clearance_and_vss(system, e, cl_mL_min, vss_L_kg):
    """Hasan et al. 2021 (abstract): CL 1620 / 1530 mL/min, Vss 6.6 / 5.6 L/kg; exact by linear algebra (CL =
    dose / AUC, Vss = steady-state amount / plasma concentration under a constant input)."""
    s, _, vals = system
    keep = [f"{e}_{x}" for x in KET]
    y = _unit_auc(system, f"{e}_central", keep)
    c_auc = y[s.state_index(f"{e}_central")] / vals[f"{e}_v_central_L"]
    assert 1.0 / c_auc == pytest.approx(cl_mL_min * 60 / 1000, rel=1e-9)
    assert sum(y[s.state_index(x)] for x in keep) / c_auc == pytest.approx(vss_L_kg * 70.0, rel=1e-9)


@pytest.mark.parametrize("e, mean_h, sd_h", [("s", 5.2, 3.4), ("r", 6.1, 3.1)])
def test_terminal_half_life_is_the_four_compartment_root_and_inside_hasans_spread(system, e, mean_h, sd_h):
    """The slowest root of the ketamine states equals that of the matrix written out by hand from the published
    numbers (V1 and the distribution clearances of Domino, CL and Vss of Hasan, the brain in parallel with the deep
    compartment, which gives up its volume kp·V_brain and the brain's blood flow), and lies within Hasan's mean ±
    SD (the set was not fitted to it)."""
    s, p, _ = system
    K = cf.linear_matrix(s, p)
    idx = [s.state_index(f"{e}_{x}") for x in KET if np.any(K[s.state_index(f"{e}_{x}")] != 0)]
    t_half = math.log(2) / np.abs(np.linalg.eigvals(K[np.ix_(idx, idx)]).real).min()
    cl = {"s": 97.2, "r": 91.8}[e]
    vss = {"s": 6.6, "r": 5.6}[e] * 70
    v1 = 0.063 * 70
    q2, v2 = v1 * 0.592 * 60, v1 * 0.592 / 0.247
    qb, vb = 38.304, 6.5 * 1.4  # human brain blood flow (L/h) and kp x V_brain (L), pkpd.species.HUMAN_BRAIN
    q3, v3 = v1 * 0.590 * 60 - qb, vss - v1 - v2 - vb
    A = np.array([[-(cl + q2 + q3 + qb) / v1, q2 / v2, q3 / v3, qb / vb],
                  [q2 / v1, -q2 / v2, 0, 0], [q3 / v1, 0, -q3 / v3, 0], [qb / v1, 0, 0, -qb / vb]])
    assert t_half == pytest.approx(math.log(2) / np.abs(np.linalg.eigvals(A).real).min(), rel=1e-9)
    assert mean_h - sd_h <= t_half <= mean_h + sd_h


def test_metabolite_chain_is_the_bateman_closed_form(system):
    """With distribution switched off, S-ketamine → S-norketamine → (2S,6S)-HNK is a linear chain whose amounts
    after a bolus are the Bateman functions (Bateman 1910); the matrix-exponential solution must equal them."""
    s, p, vals = system
    p = p.copy()
    for i, n in enumerate(s.param_names):
        if any(t in n for t in ("peripheral", "brain", "liver")):
            p[i] = 0.0
    ke = vals["s_k_central_nor_central"] + vals["s_k_central_eliminated"]
    kn = vals["s_k_nor_central_nor_eliminated"] + vals["s_k_nor_central_hnk_central"]
    kh = vals["s_k_hnk_central_hnk_eliminated"]
    k1, k2 = vals["s_k_central_nor_central"], vals["s_k_nor_central_hnk_central"]
    from pkpd.ode import Schedule

    t = np.linspace(0.0, 24.0, 49)
    y = cf.solve_linear(s, np.zeros(s.n_states), t, p, Schedule().bolus(0.0, "s_central", 10.0))
    ket = 10.0 * np.exp(-ke * t)
    nor = 10.0 * k1 / (kn - ke) * (np.exp(-ke * t) - np.exp(-kn * t))
    hnk = 10.0 * k1 * k2 * (np.exp(-ke * t) / ((kn - ke) * (kh - ke)) + np.exp(-kn * t) / ((ke - kn) * (kh - kn))
                            + np.exp(-kh * t) / ((ke - kh) * (kn - kh)))
    for state, ref in (("s_central", ket), ("s_nor_central", nor), ("s_hnk_central", hnk)):
        np.testing.assert_allclose(y[:, s.state_index(state)], ref, rtol=1e-9, atol=1e-12)
    assert not y[:, [s.state_index(x) for x in s.state_names if x.startswith("r_")]].any()


def test_mass_balance_with_both_chains_and_their_metabolites():
    """Everything dosed is in the body or in a sink, chain by chain (S gets half of a racemic dose)."""
    reg = Regimen.single("20mg", "oral") + Regimen.single("10mg", "iv-infusion", time_h=2.0, duration_h=0.5)
    res = simulate_pk(reg, 30.0, species="human", pk_model="hasan2021")
    dosed = sum(d["base_umol"] for d in res.metadata["doses"])
    t = res.t_h
    given = np.where(t >= 2.5, dosed, np.nan)  # after the infusion ended every dose is in
    for prefix in ENANTIOMER_PREFIXES:
        chain = sum(res.state(x) for x in res.state_names if x.startswith(prefix))
        np.testing.assert_allclose(chain[t >= 2.5], given[t >= 2.5] / 2, rtol=1e-10)
    assert res.state("s_hnk_eliminated")[-1] > 0 and res.state("r_hnk_eliminated")[-1] > 0


def test_racemic_is_s_plus_r():
    """The chains are linear and do not interact, so a racemic dose is an esketamine plus an arketamine dose of
    half the size each, state by state and in every concentration column."""
    reg = Regimen.single("40mg", "intranasal")
    rac = simulate_pk(reg, 8.0, species="human", pk_model="hasan2021", drug="racemic")
    half = Regimen.single("20mg", "intranasal")
    s = simulate_pk(half, 8.0, species="human", pk_model="hasan2021", drug="esketamine")
    r = simulate_pk(half, 8.0, species="human", pk_model="hasan2021", drug="arketamine")
    np.testing.assert_allclose(rac.amounts_umol, s.amounts_umol + r.amounts_umol, rtol=1e-10, atol=1e-12)
    for col in ("plasma_ketamine_uM", "plasma_norketamine_uM", "brain_ketamine_uM",
                "plasma_2s6s_hydroxynorketamine_uM", "plasma_2r6r_hydroxynorketamine_uM"):
        np.testing.assert_allclose(rac.columns[col], s.columns[col] + r.columns[col], rtol=1e-10, atol=1e-14)
    assert not s.columns["plasma_r_ketamine_uM"].any() and not r.columns["plasma_s_ketamine_uM"].any()


def test_occupancy_is_driven_by_the_four_free_concentrations():
    """x = C_S/K_S + C_R/K_R + C_SN/K_SN + C_RN/K_RN with Ebert's Ki; hydroxynorketamines do not enter."""
    res = simulate_pk(Regimen.single("0.5mg/kg", "iv-infusion", duration_h=40 / 60), 4.0, species="human",
                      pk_model="hasan2021")
    c, n = res.columns, NmdaParams()
    x = (c["brain_free_s_ketamine_uM"] / n.ki_s_ketamine_uM + c["brain_free_r_ketamine_uM"] / n.ki_r_ketamine_uM
         + c["brain_free_s_norketamine_uM"] / n.ki_s_norketamine_uM
         + c["brain_free_r_norketamine_uM"] / n.ki_r_norketamine_uM)
    np.testing.assert_allclose(c["nmda_occupancy_pyramidal"], competitive_occupancy(x), rtol=1e-12)
    r = n.interneuron_potency_ratio
    np.testing.assert_allclose(c["nmda_occupancy_interneuron"], competitive_occupancy(r * x), rtol=1e-12)


@pytest.mark.parametrize("drug, e, hnk, ratio", [("esketamine", "s", "2s6s", 1.7), ("arketamine", "r", "2r6r", 3.1)])
def test_hnk_to_ketamine_auc_ratio_is_hasans(drug, e, hnk, ratio):
    """The HNK clearance is calibrated so AUC_HNK/AUC_ket after i.v. ketamine is Hasan's (1.7 S, 3.1 R); checked
    on the simulated curves' AUC(0–∞)."""
    res = simulate_pk(Regimen.single("5mg", "iv"), 200.0, species="human", pk_model="hasan2021", drug=drug)
    summ = res.summary()
    got = summ[f"plasma_{hnk}_hydroxynorketamine"]["auc_0_inf_uM_h"] / summ[f"plasma_{e}_ketamine"]["auc_0_inf_uM_h"]
    assert got == pytest.approx(ratio, rel=1e-3)


def test_lumped_consumers_refuse_the_resolved_set_in_one_line():
    with pytest.raises(ValueError, match="^pk-model: an enantiomer-resolved set"):
        parameter_vector(ketamine_system(), parameter_values(M, HUMAN))
    with pytest.raises(ValueError, match="enantiomer-resolved"):
        M.disposition(HUMAN)


def test_columns_are_checked_before_simulating():
    assert check_columns(["time_h", "plasma_2r6r_hydroxynorketamine_uM"], "hasan2021", "human")[1] == \
        "plasma_2r6r_hydroxynorketamine_uM"
    with pytest.raises(ValueError, match="^columns: plasma_2s6s_hydroxynorketamine_uM needs an enantiomer-resolved"):
        check_columns(["plasma_2s6s_hydroxynorketamine_uM"], "domino1982", "human")
    with pytest.raises(ValueError, match="^columns: unknown column 'hnk'"):
        check_columns(["hnk"], "hasan2021", "human")


@pytest.mark.parametrize("args, message", [
    (["--pk-model", "domino1982", "--drug", "esketamine"], "drug: the domino1982 PK model describes racemic"),
    (["--columns", "time_h,plasma_2r6r_hydroxynorketamine_uM"], "columns: plasma_2r6r_hydroxynorketamine_uM needs"),
    (["--pk-model", "hasan2021", "--drug", "levoketamine"], "drug: unknown form 'levoketamine'"),
])
def test_cli_bad_enantiomer_input_is_one_line_exit_2(args, message):
    res = runner.invoke(cli.app, ["pk", "--species", "human", "--dose", "20mg", "--route", "iv", *args])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_cli_writes_the_enantiomer_columns(tmp_path):
    out = tmp_path / "pk.csv"
    res = runner.invoke(cli.app, ["pk", "--species", "human", "--pk-model", "hasan2021", "--drug", "esketamine",
                                  "--dose", "20mg", "--route", "iv-infusion", "--infusion-time", "20min",
                                  "--duration", "1h", "--step", "20min", "--out", str(out)])
    assert res.exit_code == 0, res.output
    header = out.read_text().splitlines()[0].split(",")
    assert "plasma_2s6s_hydroxynorketamine_uM" in header and "plasma_r_ketamine_uM" in header


def test_trapping_on_the_resolved_graph_relaxes_to_its_equilibrium_occupancy():
    """With fast, equal binding rates the trapping state tracks the competitive equilibrium of the four free
    concentrations (scipy reference backend: no compilation)."""
    nmda = NmdaParams(trap_k_on_per_h=1e4, trap_k_off_per_h=1e4)
    res = simulate_pk(Regimen.single("20mg", "iv-infusion", duration_h=0.5), 3.0, species="human",
                      pk_model="hasan2021", drug="esketamine", trapping=True, backend="scipy", nmda=nmda,
                      t_eval=np.linspace(0.0, 3.0, 13))
    eq = simulate_pk(Regimen.single("20mg", "iv-infusion", duration_h=0.5), 3.0, species="human",
                     pk_model="hasan2021", drug="esketamine", nmda=nmda, t_eval=np.linspace(0.0, 3.0, 13))
    # the binding relaxes at >= 1e4 /h towards an equilibrium that moves at ~1 /h relative: a lag of ~1e-4
    occ, occ_eq = res.columns["nmda_occupancy_pyramidal"][1:], eq.columns["nmda_occupancy_pyramidal"][1:]
    np.testing.assert_allclose(occ, occ_eq, rtol=3e-4)
