"""Named overrides of the circuit model: a circuit override changes a readout in the direction the mechanism
says, the sensitivity adapter and `simulate` read the same numbers, PK overrides reach the circuit's engine
parameters, and regimen overrides apply where the regimen's PK set has the parameter."""

import numpy as np
import pytest

from circuits.experiments import run_groups, simulate_protocol
from circuits.model import CircuitParams
from circuits.overrides import apply_circuit, circuit_space, resolve_circuit
from circuits.sensitivity import CircuitReadouts
from pkpd.dosing import Regimen
from pkpd.pk_models import PK_MODELS


def test_circuit_space_names_and_the_calibrated_ratio():
    space = circuit_space()
    assert space["g_h"].group == "circuit.plasticity" and space["g_h"].default == CircuitParams().value("g_h")
    # the circuit's calibrated ratio replaces the receptor's placeholder under the one name
    assert space["interneuron_potency_ratio"].kind == "calibrated"
    assert "cl_L_per_h" in space and "route.ip.ka_per_h" in space
    assert "mtor_block" not in space  # manipulations are set by protocols, not overridden
    with pytest.raises(ValueError, match="unknown parameter 'g_hh'; did you mean g_h"):
        space.canonical("g_hh")
    with pytest.raises(ValueError, match=r"g_h: expected a value in \[0, 1000\]"):
        resolve_circuit({"g_h": 2000})


def test_a_pk_override_reaches_the_circuit_engine_parameters():
    """The circuit's elimination rate constant is (1 - fm) CL / V_c with the overridden clearance."""
    cp, pkv = apply_circuit({"cl_L_per_h": 0.2}, circuit_space())
    assert cp == CircuitParams()
    m = PK_MODELS["mouse"]
    assert pkv["k_central_eliminated"] == pytest.approx((1 - m.fm_norketamine) * 0.2 / pkv["v_central_L"],
                                                        rel=1e-12)
    assert pkv["interneuron_potency_ratio"] == CircuitParams().interneuron_potency_ratio
    cp2, pkv2 = apply_circuit({"g_h": 40.0}, circuit_space())
    assert pkv2 is None and cp2.value("g_h") == 40.0


def test_stress_sensitivity_override_changes_helplessness():
    """g_h sets how strongly stress removes spines: halving it leaves fewer failures after sLH induction, and the
    adapter's numbers are those of run_groups on the overridden typical mouse (the same engine path)."""
    g0 = CircuitParams().value("g_h")
    f = CircuitReadouts().model_function(["g_h"], ["slh.failure_rate.lh", "slh.failure_rate.4h"])
    Y = f(np.array([[g0], [g0 / 2]]))
    assert Y[1, 0] < Y[0, 0] - 0.05  # a clear drop, far above the solver's 1e-3 readout error
    ro = CircuitReadouts()
    pr = ro.protocol("slh")
    direct = run_groups([CircuitParams().replace(g_h=g0 / 2)], [pr])[0]
    assert Y[1, 0] == pytest.approx(direct.failure[0, direct.labels.index("lh")], rel=1e-12)
    sim = simulate_protocol("slh", regimen=Regimen.single("10mg/kg", "ip"), params={"g_h": g0 / 2}, step_h=24.0)
    lh = sim["tests"]["test"].index("lh")
    assert sim["tests"]["failure_rate"][lh] == pytest.approx(Y[1, 0], rel=1e-9)
    assert sim["overrides"][0]["name"] == "g_h" and sim["overrides"][0]["value"] == g0 / 2


def test_regimen_overrides_apply_where_the_pk_set_has_the_parameter():
    from circuits.regimens import _split_overrides, preset_spec

    specs = [preset_spec("human_single"), preset_spec("esketamine_56")]
    circuit, pk, record = _split_overrides({"k10": "0.3 1/min", "g_h": 60, "frn": 0.5}, specs)
    assert circuit.value("g_h") == 60.0
    # the human default (Domino 1982) has k10; Perez-Ruixo has FRn
    assert pk[0] == {"k10_per_min": pytest.approx(0.3)} and pk[1] == {"frn": 0.5}
    assert {(r["name"], r["regimen"]) for r in record} == {("k10_per_min", "human_single"), ("g_h", None),
                                                           ("frn", "esketamine_56")}
    with pytest.raises(ValueError, match="unknown parameter 'clearance'"):
        _split_overrides({"clearance": 40}, specs)


def test_causality_gives_zero_indices_through_the_sensitivity_path():
    """Through the code path of `ketamine sensitivity` (sensitivity_problem + run_sensitivity): the sLH failure
    rate after induction (read at 72 h) cannot depend on the clearance of a drug given at 96 h, nor on the oral
    route of an i.p. protocol, so both get S1 = ST = 0 exactly; g_h (stress sensitivity) carries it all (ST = 1)."""
    from circuits.sensitivity import sensitivity_problem
    from pkpd.sensitivity import run_sensitivity

    model, factors, readouts, info = sensitivity_problem(
        ["slh.failure_rate.lh"], "g_h,cl_L_per_h,route.oral.ka_per_h",
        ranges={"g_h": (40.0, 160.0), "cl_L_per_h": (0.15, 0.6), "route.oral.ka_per_h": (1.0, 8.0)})
    res = run_sensitivity(model, factors, readouts, method="sobol", n=32, seed=0)
    ix = res.indices["slh.failure_rate.lh"]
    assert [f.name for f in factors] == ["g_h", "cl_L_per_h", "route.oral.ka_per_h"]
    assert list(ix["ST"][1:]) == [0.0, 0.0] and list(ix["S1"][1:]) == [0.0, 0.0]
    assert abs(ix["ST"][0] - 1.0) <= ix["ST_conf"][0]  # the only input left: ST = 1 within its interval
    assert info["groups"]["route.oral.ka_per_h"] == "mouse.route.oral"


def test_experiment_readouts_read_any_summary_schema(monkeypatch):
    """Experiment readouts are the numeric leaves of whatever summary the experiment returns, by dotted key (a
    schema change of the replication's summary changes the names, not the code): here a stand-in experiment
    whose summary is a known function of the overrides it receives."""
    import circuits.sensitivity as cs

    seen = []

    def fake(n, seed, params):
        seen.append((n, seed, dict(params)))
        return {"group": {"twice_g_h": 2 * params.get("g_h", 83.77), "undefined": None},
                "grid": [1.0, 2.0], "label": "x"}

    monkeypatch.setitem(cs.EXPERIMENTS, "fake", fake)
    ex = cs.ExperimentReadouts("fake", n=3, seed=5, params={"cl_L_per_h": 0.2})
    assert ex.available() == ["fake.group.twice_g_h"]  # None (undefined for this cohort), lists and text left out
    Y = ex.model_function(["g_h"], ["fake.group.twice_g_h"])(np.array([[10.0], [40.0]]))
    assert Y[:, 0].tolist() == [20.0, 80.0]
    assert seen[-1] == (3, 5, {"cl_L_per_h": 0.2, "g_h": 40.0})  # fixed overrides travel with every sample
    with pytest.raises(ValueError, match="unknown readout 'fake.group.twice'; did you mean fake.group.twice_g_h"):
        ex.model_function(["g_h"], ["fake.group.twice"])
