"""Generated code: it agrees with the symbolic model, is current, and lives in a real, content-hashed file."""

import numpy as np
import pytest
import sympy

from pkpd.ode import OdeSystem
from pkpd.ode.codegen import compile_system, generate_source, module_path

# A non-autonomous, nonlinear system with a Piecewise, Heaviside, exp, sqrt and a rational power: it exercises
# every printer path the models use.
a, b, c = sympy.symbols("a b c")
k1, k2, V = sympy.symbols("k1 k2 V")
t = sympy.Symbol("t")
NONLINEAR = OdeSystem(
    [a, b, c],
    [-k1 * a * b / (1 + a**2) + sympy.sin(t),
     k1 * a * b / (1 + a**2) - k2 * sympy.sqrt(b**2 + 1) + sympy.Heaviside(a - 1) * 0.5,
     k2 * sympy.exp(-c) * b ** sympy.Rational(3, 2) + sympy.Piecewise((c, c > 2), (0, True))],
    [k1, k2, V],
    observables={"conc": a / V, "total": a + b + c},
    name="nonlinear_check",
)


@pytest.fixture(scope="module")
def compiled():
    return compile_system(NONLINEAR)


def _random_points(n, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0, 5), rng.uniform(0.1, 3, 3), rng.uniform(0.5, 2, 3)) for _ in range(n)]


def test_rhs_and_jacobian_match_the_lambdified_model(compiled):
    f, jac = NONLINEAR.lambdify()
    dy = np.empty(3)
    J = np.empty((3, 3))
    for tt, y, p in _random_points(20):
        compiled.rhs(tt, y, p, dy)
        compiled.jac(tt, y, p, J)
        # same expressions, different evaluation order (CSE): agreement to a few ulps
        np.testing.assert_allclose(dy, f(tt, y, p), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(J, jac(tt, y, p), rtol=1e-13, atol=1e-14)


def test_jacobian_and_time_derivative_match_central_differences(compiled):
    dy_p, dy_m, J, ft = np.empty(3), np.empty(3), np.empty((3, 3)), np.empty(3)
    for tt, y, p in _random_points(20, seed=2):
        compiled.jac(tt, y, p, J)
        for j in range(3):
            h = 1e-6 * max(1.0, abs(y[j]))
            yp, ym = y.copy(), y.copy()
            yp[j] += h
            ym[j] -= h
            compiled.rhs(tt, yp, p, dy_p)
            compiled.rhs(tt, ym, p, dy_m)
            # central differences are O(h^2) ~ 1e-12 accurate plus rounding ~ eps/h ~ 1e-10
            np.testing.assert_allclose(J[:, j], (dy_p - dy_m) / (2 * h), rtol=1e-7, atol=1e-8)
        compiled.dfdt(tt, y, p, ft)
        compiled.rhs(tt + 1e-6, y, p, dy_p)
        compiled.rhs(tt - 1e-6, y, p, dy_m)
        np.testing.assert_allclose(ft, (dy_p - dy_m) / 2e-6, rtol=1e-7, atol=1e-8)


def test_observables_are_generated(compiled):
    out = np.empty(2)
    compiled.obs(0.0, np.array([2.0, 3.0, 4.0]), np.array([1.0, 1.0, 4.0]), out)
    np.testing.assert_allclose(out, [0.5, 9.0], rtol=1e-15)


def test_generated_file_is_current_and_content_hashed(compiled):
    path = compiled.path
    assert path.exists() and path == module_path(NONLINEAR)
    text = path.read_text()
    # the file on disk is exactly what the generator produces from today's model and kernels
    assert text.startswith(generate_source(NONLINEAR))
    assert "def solve_batch(" in text and "exec(" not in text
    # changing one coefficient changes the file name, so a stale file can never be loaded
    other = OdeSystem(NONLINEAR.states, [NONLINEAR.rhs[0] * 2, *NONLINEAR.rhs[1:]], NONLINEAR.params,
                      observables=NONLINEAR.observables, name="nonlinear_check")
    assert module_path(other) != path


def test_compiled_module_is_reused_in_process(compiled):
    assert compile_system(NONLINEAR) is compiled


@pytest.mark.slow
def test_numba_cache_is_used_by_a_new_process(compiled, tmp_path):
    # After the module has been compiled once (the fixture), a fresh interpreter must load machine code from
    # numba's cache instead of compiling: no cache misses for the batch kernel.
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from tests.ode.test_codegen import NONLINEAR\n"
        "from pkpd.ode import solve\n"
        "from pkpd.ode.codegen import compile_system\n"
        "s = solve(NONLINEAR, [1.0, 1.0, 1.0], [0.0, 1.0], [1.0, 0.5, 2.0])\n"
        "k = compile_system(NONLINEAR).module.solve_batch\n"
        "print(sum(k.stats.cache_misses.values()), sum(k.stats.cache_hits.values()))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # warm the cache for the solve_batch signature used by solve()
    from pkpd.ode import solve

    solve(NONLINEAR, [1.0, 1.0, 1.0], [0.0, 1.0], [1.0, 0.5, 2.0])
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300,
                         env=os.environ | {"PYTHONPATH": root})
    assert res.returncode == 0, res.stderr
    misses, hits = map(int, res.stdout.split()[-2:])
    assert (misses, hits) == (0, 1)


# ---- the cache is trusted only as far as it must be -------------------------------------------------------------
TINY = OdeSystem([a], [-k1 * a], [k1], name="tiny_cache_check")


def test_an_altered_generated_file_is_replaced_before_import(tmp_path, monkeypatch):
    monkeypatch.setenv("KETAMINE_QSP_CACHE", str(tmp_path / "cache"))
    path = module_path(TINY)
    path.parent.mkdir(parents=True, mode=0o700)
    marker = tmp_path / "imported"
    path.write_text(f"open({str(marker)!r}, 'w').close()\n")  # what a writer of a shared cache could plant
    compiled = compile_system(TINY)
    assert not marker.exists()
    assert compiled.path.read_text().startswith(generate_source(TINY))


def test_a_cache_others_can_write_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KETAMINE_QSP_CACHE", str(tmp_path / "shared"))
    gen = module_path(TINY).parent
    gen.mkdir(parents=True)
    gen.chmod(0o777)
    with pytest.raises(ValueError, match="writable by group/others"):
        compile_system(TINY)

def test_a_first_compile_is_announced_once_and_a_cached_model_loads_silently(tmp_path, monkeypatch, caplog):
    # Importing the generated module does not compile (numba compiles on the first call), so this costs no
    # compile; the announcement keys on numba's on-disk index (``__pycache__/<module>.*.nbi``).
    import logging

    from pkpd.ode import codegen

    monkeypatch.setenv("KETAMINE_QSP_CACHE", str(tmp_path))
    caplog.set_level(logging.INFO, logger="pkpd.ode.codegen")
    path = module_path(NONLINEAR)
    compile_system(NONLINEAR)
    compile_system(NONLINEAR)  # in-process: already loaded
    said = [r.getMessage() for r in caplog.records if r.name == "pkpd.ode.codegen"]
    assert len(said) == 1 and said[0].startswith("compiling nonlinear_check (stiff solver kernels)"), said
    assert str(tmp_path) in said[0]
    caplog.clear()
    (path.parent / "__pycache__").mkdir(exist_ok=True)
    (path.parent / "__pycache__" / f"{path.stem}.rhs-1.py311.nbi").write_bytes(b"")  # as numba leaves it
    monkeypatch.delitem(codegen._LOADED, str(path))
    compile_system(NONLINEAR)
    assert [r for r in caplog.records if r.name == "pkpd.ode.codegen"] == []
