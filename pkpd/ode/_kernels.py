# Generic batched solver kernels (numba). This file is not imported on its own: codegen appends its text to each
# generated model file, after the model's ``rhs``, ``jac_pattern``, ``dfdt``, ``obs``, the sparse LU of its
# Rosenbrock matrix (``form_w_sparse``, ``lu_sparse``, ``lu_sparse_solve``) and the constants ``N_STATES``,
# ``AUTONOMOUS``, ``SPARSE_LU``, so that numba can cache the whole module on disk (numba does not cache functions
# that take other jitted functions as arguments). It knows nothing about any particular model.
#
# How a subject is integrated
# 1. Events split the timeline [t_eval[0], t_eval[-1]] into smooth segments at every bolus, reset, infusion start
#    and infusion end. At a segment boundary the jumps are applied (in the order given), the constant input vector
#    ``u`` (sum of the rates of the running infusions) is recomputed, and the step size is chosen afresh (no stage
#    or controller history crosses a discontinuity).
# 2. Inside a segment: Dormand-Prince 5(4) with a PI controller, Hairer's DOP853 (8th order, for tight
#    tolerances on non-stiff problems), or a Rodas method (Rodas4, or Rodas5P in its own family) with
#    Gustafsson's predictive controller. Outputs inside a step come from the method's dense output; outputs at a
#    segment end are the state after that end's events (right-continuous).
# 3. Each generated module holds one method family (the constant METHOD_FAMILY): EXPLICIT (DOPRI5), DOP853,
#    RODAS5P_FAMILY, or AUTO, which serves both ``rosenbrock`` (Rodas4 from the start) and ``auto``. Numba prunes
#    the branches of the other families, so a module compiles only what its family runs. The Rodas kernel is one
#    loop over the stages of the module's tableau (``_RO_*``: Rodas4, or Rodas5P in the RODAS5P family).
#    method AUTO starts explicit and applies Hairer's stiffness test (DOPRI5 code; Hairer, Norsett & Wanner I,
#    §II.10): after each accepted step, h*|lambda| is estimated as h * ||k7 - k6|| / ||y_new - y_stage6||; when it
#    exceeds 2.6 (80% of the method's stability boundary on the negative real axis, 3.3) on 15 accepted steps
#    (the count resets after 6 steps below it), the step size is limited by stability rather than accuracy and
#    the subject switches to Rodas4 for the rest of its integration. Hairer's code uses 3.25; a PI controller keeps
#    stability-limited steps just under that, so the test would rarely fire (measured on Van der Pol, mu = 1000).
# 4. Status codes, never exceptions: 0 ok, 1 max steps, 2 non-finite, 3 step too small. Outputs after a failure
#    are NaN; the other subjects are not affected.
# 5. Quasi-steady states (``qss``, optional): at the start and after the jumps at every later segment start, the listed
#    states are set to the root of their own right-hand sides, the other states held (Newton with the analytic
#    Jacobian's block; a caller's fast subsystem whose transients after an input switch last far less than
#    anything it reads). If Newton does not converge the states are left as they were and the integrator resolves
#    their transient as usual.
# 6. Arguments travel in records (namedtuples, typed by numba as structs): Controls (what the caller asks of every
#    subject), Events (one subject's schedule) and Work (one block's scratch arrays), so that a kernel's signature
#    names what it needs instead of listing ~30 arrays; measured against the flat argument lists (POLL Rodas4 and
#    Rodas5P, Lorenz-96 DOPRI5 and DOP853, 2000 subjects, one thread, interleaved processes): the same speed.
# 7. Only the two parallel entry points (solve_batch, observe_batch) allocate (scratch arrays per block of
#    subjects). Every function they call, and every generated model function, is compiled without numba's
#    reference counting (``_nrt=False``): it never allocates, and the atomic incref/decref that NRT wraps around
#    each array argument and row view (K[s]) took a third of a POLL solve (perf, 2026-11-30: NRT_incref and
#    NRT_decref 33 % of the samples; 1.32x faster without, results bitwise the same).
from collections import namedtuple

from pkpd.ode.tableaus import DOP853 as _D8_TABLEAU, DOPRI5 as _DP_TABLEAU, RODAS4, RODAS5P

# Records passed down the kernels instead of long argument lists (numba types a namedtuple of arrays and scalars as
# a struct: no allocation, no reference counting in the _nrt=False functions, fields read by name at compile time).
#: What the caller asks of every subject: method code, relative tolerance, absolute tolerances (n,), step budget,
#: indices of the quasi-steady states (q,).
Controls = namedtuple("Controls", "method rtol atol max_steps qss")
#: One subject's events: kind (BOLUS/INFUSION/RESET), start and end time, target state, value (amount, rate or
#: level), and how many of the rows are used.
Events = namedtuple("Events", "kind t0 t1 state value n")
#: One block's scratch arrays (allocated once per block by solve_batch, reused subject after subject): the state y,
#: the infusion input u, the stages K (16, n), ynew, ystage, yerr, f0, ft (n,), the Jacobian J and the Rosenbrock
#: matrix W (n, n), its pivots, the Rodas dense-output rows D (3, n) and DOP853's F (7, n).
Work = namedtuple("Work", "y u K ynew ystage yerr f0 ft J W piv D F")

AUTO, EXPLICIT, ROSENBROCK, DOP853, RODAS5P_FAMILY = 0, 1, 2, 3, 4
# the Rosenbrock method of this module: Rodas5P in the rodas5p family, Rodas4 in every other
_RO_TABLEAU = RODAS5P if METHOD_FAMILY == RODAS5P_FAMILY else RODAS4

_DP_A = np.ascontiguousarray(_DP_TABLEAU.a)
_DP_C = np.ascontiguousarray(_DP_TABLEAU.c)
_DP_B = np.ascontiguousarray(_DP_TABLEAU.b)
_DP_E = np.ascontiguousarray(_DP_TABLEAU.e)
_DP_P = np.ascontiguousarray(_DP_TABLEAU.p)
_RO_A = np.ascontiguousarray(_RO_TABLEAU.a)
_RO_CC = np.ascontiguousarray(_RO_TABLEAU.C)
_RO_C = np.ascontiguousarray(_RO_TABLEAU.c)
_RO_D = np.ascontiguousarray(_RO_TABLEAU.d)
_RO_H = np.ascontiguousarray(_RO_TABLEAU.h)
_RO_GAMMA = float(_RO_TABLEAU.gamma)
_RO_S = _RO_TABLEAU.c.size         # stages; the last one is the error estimate
_RO_NH = _RO_TABLEAU.h.shape[0]    # rows of the dense output
# Rodas5P's embedded estimate (k_s) can accept steps whose error is far larger (measured on the circuit model after
# a dose: 4 % at rtol 1e-6, where Rodas4 is within 1e-4). As in Steinebach's Rodas5Pr (OrdinaryDiffEq.jl), a step
# the estimate accepts is also checked by the defect of the dense output at its midpoint (one more rhs evaluation).
_RO_RESIDUAL = METHOD_FAMILY == RODAS5P_FAMILY
# the dense output's P(θ) = Σ_r D_r θ^r and P'(θ) at θ = 1/2 as weights on the stages (D_r = Σ_j H_rj k_j)
_RO_MID = np.ascontiguousarray(sum(_RO_TABLEAU.h[r] * 0.5 ** r for r in range(_RO_NH)))
_RO_DMID = np.ascontiguousarray(sum(r * _RO_TABLEAU.h[r] * 0.5 ** (r - 1) for r in range(1, _RO_NH)))
_D8_A = np.ascontiguousarray(_D8_TABLEAU.a)
_D8_C = np.ascontiguousarray(_D8_TABLEAU.c)
_D8_B = np.ascontiguousarray(_D8_TABLEAU.b)
_D8_E3 = np.ascontiguousarray(_D8_TABLEAU.e3)
_D8_E5 = np.ascontiguousarray(_D8_TABLEAU.e5)
_D8_D = np.ascontiguousarray(_D8_TABLEAU.d)

OK, MAX_STEPS, NON_FINITE, STEP_TOO_SMALL = 0, 1, 2, 3
_SWITCH = -1
BOLUS, INFUSION, RESET = 0, 1, 2
# stats columns
_ACC, _REJ, _RHS, _JAC, _STIFF = 0, 1, 2, 3, 4

# Step-size control constants (Hairer & Wanner's DOPRI5 and RODAS codes).
_SAFE = 0.9            # safety factor on the optimal step
_SHRINK_MAX = 5.0      # a step shrinks at most 5x per rejection ...
_GROW_MAX_DP = 10.0    # ... and grows at most 10x (explicit) or 6x (Rosenbrock) per accepted step
_GROW_MAX_RO = 6.0
_SHRINK_MAX_D8 = 3.0   # DOP853 (Hairer's code: fac1 = 0.333, fac2 = 6)
_GROW_MAX_D8 = 6.0
_PI_BETA = 0.04        # PI controller of DOPRI5: fac = err^(1/5 - 0.75*beta) * err_old^(-beta)
_PI_ALPHA = 0.2 - 0.75 * _PI_BETA
_NONFINITE_SHRINK = 0.1  # a step that produced NaN/inf is retried 10x smaller
_STIFF_HLAMBDA = 2.6   # stiffness threshold on h*|lambda|: 80% of DOPRI5's real stability boundary (3.3)
_STIFF_STEPS = 15
_NONSTIFF_RESET = 6
_EPS = 2.220446049250313e-16


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _f(t, y, p, u, dy):
    rhs(t, y, p, dy)
    for i in range(N_STATES):
        dy[i] += u[i]


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _all_finite(x):
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return False
    return True


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _err_norm(err, y, ynew, rtol, atol):
    """RMS of err / (atol + rtol * max(|y|, |y_new|)) (Hairer & Wanner I, eq. II.4.11)."""
    s = 0.0
    for i in range(N_STATES):
        sc = atol[i] + rtol * max(abs(y[i]), abs(ynew[i]))
        v = err[i] / sc
        s += v * v
    r = math.sqrt(s / N_STATES)
    if not math.isfinite(r):
        return math.inf
    return r


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _initial_step(t, y, f0, p, u, rtol, atol, order, span, ytmp, f1):
    """Starting step (Hairer & Wanner I, §II.4; scipy's select_initial_step); costs one rhs evaluation."""
    d0 = 0.0
    d1 = 0.0
    for i in range(N_STATES):
        sc = atol[i] + rtol * abs(y[i])
        d0 += (y[i] / sc) ** 2
        d1 += (f0[i] / sc) ** 2
    d0 = math.sqrt(d0 / N_STATES)
    d1 = math.sqrt(d1 / N_STATES)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    h0 = min(h0, span)
    for i in range(N_STATES):
        ytmp[i] = y[i] + h0 * f0[i]
    _f(t + h0, ytmp, p, u, f1)
    d2 = 0.0
    for i in range(N_STATES):
        sc = atol[i] + rtol * abs(y[i])
        d2 += ((f1[i] - f0[i]) / sc) ** 2
    d2 = math.sqrt(d2 / N_STATES) / h0
    if not math.isfinite(d2):
        return h0 * 1e-2
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    return min(100.0 * h0, h1, span)


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _lu_factor(A, piv):
    """In-place LU with partial pivoting (row interchanges in ``piv``, reciprocal pivots on the diagonal).

    Returns 1 if the matrix is singular (or not finite), else 0."""
    n = N_STATES
    for k in range(n):
        pk = k
        m = abs(A[k, k])
        for i in range(k + 1, n):
            if abs(A[i, k]) > m:
                m = abs(A[i, k])
                pk = i
        piv[k] = pk
        if m == 0.0 or not math.isfinite(m):
            return 1
        if pk != k:
            for j in range(n):
                tmp = A[k, j]
                A[k, j] = A[pk, j]
                A[pk, j] = tmp
        inv = 1.0 / A[k, k]
        A[k, k] = inv  # the solve multiplies by the stored reciprocal pivot instead of dividing
        for i in range(k + 1, n):
            A[i, k] *= inv
            lik = A[i, k]
            if lik != 0.0:
                for j in range(k + 1, n):
                    A[i, j] -= lik * A[k, j]
    return 0


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _lu_solve(LU, piv, b):
    """Solve ``A x = b`` in place from the factors of :func:`_lu_factor`."""
    n = N_STATES  # a compile-time constant: LLVM unrolls these small loops (6-8x faster than shape[0])
    for k in range(n):
        pk = piv[k]
        if pk != k:
            tmp = b[k]
            b[k] = b[pk]
            b[pk] = tmp
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= LU[i, j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= LU[i, j] * b[j]
        b[i] = s * LU[i, i]


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _form_w(J, inv_hg, W):
    """W = I/(h*gamma) - J, written densely (the dense LU's input)."""
    for i in range(N_STATES):
        for j in range(N_STATES):
            W[i, j] = -J[i, j]
        W[i, i] += inv_hg


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _solve_w(W, piv, b, sparse):
    if sparse:
        lu_sparse_solve(W, b)
    else:
        _lu_solve(W, piv, b)


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _too_small(h, t):
    return h <= 16.0 * _EPS * max(abs(t), 1e-300)


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _step_start(cnt, max_steps, h, t, tb, last_nonfinite):
    """Checks before every step attempt, shared by all methods: returns (status, step, is it the last step).

    The step is clipped to land exactly on the segment end ``tb`` (and stretched by up to 1 % to avoid a
    sliver step, as in Hairer's codes)."""
    if cnt[_ACC] + cnt[_REJ] >= max_steps:
        return MAX_STEPS, h, False
    if _too_small(h, t):
        return (NON_FINITE if last_nonfinite else STEP_TOO_SMALL), h, False
    if t + 1.01 * h >= tb:
        return OK, tb - t, True
    return OK, h, False


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _rk_stages(A, C, first, stop, t, h, y, p, u, K, ystage):
    """Explicit Runge-Kutta stages ``first .. stop-1``: K[s] = f(t + c_s h, y + h Σ_j a_sj K[j])."""
    for s in range(first, stop):
        for i in range(N_STATES):
            acc = 0.0
            for j in range(s):
                acc += A[s, j] * K[j, i]
            ystage[i] = y[i] + h * acc
        _f(t + C[s] * h, ystage, p, u, K[s])


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _dopri_segment(t, tb, p, ctl, auto, t_eval, oi, out, cnt, ws):
    """Dormand-Prince 5(4) from ``t`` to ``tb``; returns (status, t reached, next output index)."""
    rtol, atol, max_steps = ctl.rtol, ctl.atol, ctl.max_steps
    y, u, K, ynew, ystage, yerr = ws.y, ws.u, ws.K, ws.ynew, ws.ystage, ws.yerr
    n_out = t_eval.shape[0]
    _f(t, y, p, u, K[0])
    cnt[_RHS] += 1
    if not _all_finite(K[0]):
        return NON_FINITE, t, oi
    h = _initial_step(t, y, K[0], p, u, rtol, atol, 5, tb - t, ystage, K[1])
    cnt[_RHS] += 1
    err_old = 1e-4
    rejected = False
    last_nonfinite = False
    n_stiff = 0
    n_nonstiff = 0
    while True:
        status, h, last = _step_start(cnt, max_steps, h, t, tb, last_nonfinite)
        if status != OK:
            return status, t, oi
        _rk_stages(_DP_A, _DP_C, 1, 6, t, h, y, p, u, K, ystage)
        for i in range(N_STATES):
            acc = 0.0
            for j in range(6):
                acc += _DP_B[j] * K[j, i]
            ynew[i] = y[i] + h * acc
        _f(t + h, ynew, p, u, K[6])
        cnt[_RHS] += 6
        for i in range(N_STATES):
            acc = 0.0
            for j in range(7):
                acc += _DP_E[j] * K[j, i]
            yerr[i] = h * acc
        err = _err_norm(yerr, y, ynew, rtol, atol)
        if err == math.inf or not _all_finite(K[6]):
            cnt[_REJ] += 1
            h *= _NONFINITE_SHRINK
            rejected = True
            last_nonfinite = True
            continue
        last_nonfinite = False
        if err <= 1.0:
            cnt[_ACC] += 1
            switch = False
            if auto:
                num = 0.0
                den = 0.0
                for i in range(N_STATES):
                    num += (K[6, i] - K[5, i]) ** 2
                    den += (ynew[i] - ystage[i]) ** 2
                if den > 0.0 and h * h * num > _STIFF_HLAMBDA * _STIFF_HLAMBDA * den:
                    n_nonstiff = 0
                    n_stiff += 1
                    if n_stiff >= _STIFF_STEPS:
                        switch = True
                else:
                    n_nonstiff += 1
                    if n_nonstiff >= _NONSTIFF_RESET:
                        n_stiff = 0
            while oi < n_out and t_eval[oi] < tb and (last or t_eval[oi] <= t + h):
                th = min(1.0, (t_eval[oi] - t) / h)
                th2 = th * th
                th3 = th2 * th
                th4 = th3 * th
                for i in range(N_STATES):
                    acc = 0.0
                    for j in range(7):
                        acc += K[j, i] * (_DP_P[j, 0] * th + _DP_P[j, 1] * th2 + _DP_P[j, 2] * th3
                                          + _DP_P[j, 3] * th4)
                    out[oi, i] = y[i] + h * acc
                oi += 1
            for i in range(N_STATES):
                y[i] = ynew[i]
                K[0, i] = K[6, i]
            if last:
                return OK, tb, oi
            t = t + h
            if switch:
                return _SWITCH, t, oi
            fac = err ** _PI_ALPHA * err_old ** (-_PI_BETA) / _SAFE
            fac = max(1.0 / _GROW_MAX_DP, min(_SHRINK_MAX, fac))
            h_new = h / fac
            if rejected:
                h_new = min(h_new, h)
            err_old = max(err, 1e-4)
            rejected = False
            h = h_new
        else:
            cnt[_REJ] += 1
            h = h / min(_SHRINK_MAX, err ** _PI_ALPHA / _SAFE)
            rejected = True


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _dense_rows(K, D):
    """The Rodas dense-output rows ``D_r = Σ_j H_rj k_j`` of the current step."""
    for r in range(_RO_NH):
        for i in range(N_STATES):
            acc = 0.0
            for j in range(_RO_S):
                acc += _RO_H[r, j] * K[j, i]
            D[r, i] = acc


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _midpoint_defect(t, h, y, ynew, p, u, rtol, atol, K):
    """Residual control of Rodas5Pr (Steinebach 2024; OrdinaryDiffEq.jl): the defect of the dense output
    ``y(θ) = (1-θ) y + θ y_new + θ(1-θ) P(θ)``, ``P(θ) = Σ_r D_r θ^r``, at θ = 1/2:
    ``h (y'(θ)/h - f(t + h/2, y(θ)))`` with ``y'(1/2) = y_new - y + P'(1/2)/4``, as an error norm (:func:`_err_norm`
    scaling, so dimensionless; OrdinaryDiffEq divides the unscaled defect by the tolerance vector's norm).
    ``P(1/2)`` and ``P'(1/2)`` come straight from the stages (weights ``_RO_MID``, ``_RO_DMID``). Uses
    ``K[_RO_S]``, ``K[_RO_S + 1]`` and ``K[_RO_S + 2]`` as scratch."""
    ym = K[_RO_S]
    fm = K[_RO_S + 1]
    dm = K[_RO_S + 2]
    for i in range(N_STATES):
        pm = 0.0
        dp = 0.0
        for j in range(_RO_S):
            pm += _RO_MID[j] * K[j, i]
            dp += _RO_DMID[j] * K[j, i]
        ym[i] = 0.5 * (y[i] + ynew[i] + 0.5 * pm)
        dm[i] = ynew[i] - y[i] + 0.25 * dp  # h y'(1/2)
    _f(t + 0.5 * h, ym, p, u, fm)
    for i in range(N_STATES):
        fm[i] = dm[i] - h * fm[i]
    return _err_norm(fm, y, ynew, rtol, atol)


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _rodas_segment(t, tb, p, ctl, t_eval, oi, out, cnt, ws):
    """The module's Rodas method (Rodas4, or Rodas5P in its family) from ``t`` to ``tb``; returns (status, t reached,
    next output index)."""
    rtol, atol, max_steps = ctl.rtol, ctl.atol, ctl.max_steps
    y, u, K, ynew, ystage, f0, ft, J, W, piv, D = ws.y, ws.u, ws.K, ws.ynew, ws.ystage, ws.f0, ws.ft, ws.J, ws.W, \
        ws.piv, ws.D
    n_out = t_eval.shape[0]
    _f(t, y, p, u, f0)
    cnt[_RHS] += 1
    if not _all_finite(f0):
        return NON_FINITE, t, oi
    h = _initial_step(t, y, f0, p, u, rtol, atol, 3, tb - t, ystage, ynew)
    cnt[_RHS] += 1
    need_jac = True
    first = True
    rejected = False
    last_nonfinite = False
    h_acc = h
    err_acc = 1e-2
    n_singular = 0
    for i in range(N_STATES):
        ft[i] = 0.0
    while True:
        status, h, last = _step_start(cnt, max_steps, h, t, tb, last_nonfinite)
        if status != OK:
            return status, t, oi
        if need_jac:
            jac_pattern(t, y, p, J)  # structural non-zeros only: J is allocated zero and nothing else writes it
            if not AUTONOMOUS:
                dfdt(t, y, p, ft)
            cnt[_JAC] += 1
            need_jac = False
        inv_hg = 1.0 / (h * _RO_GAMMA)
        sparse = SPARSE_LU
        if sparse:
            form_w_sparse(J, inv_hg, W)  # the entries the sparse LU reads
        else:
            _form_w(J, inv_hg, W)
        if sparse and lu_sparse(W) != 0:
            sparse = False  # a pivot failed the threshold test: dense LU with partial pivoting for this step
            _form_w(J, inv_hg, W)
        if not sparse and _lu_factor(W, piv) != 0:
            n_singular += 1
            cnt[_REJ] += 1
            h *= 0.5
            last_nonfinite = n_singular > 5
            continue
        inv_h = 1.0 / h
        for i in range(N_STATES):
            K[0, i] = f0[i]
            if not AUTONOMOUS:
                K[0, i] += _RO_D[0] * h * ft[i]
        _solve_w(W, piv, K[0], sparse)
        for s in range(1, _RO_S):
            for i in range(N_STATES):
                acc = y[i]
                for j in range(s):
                    acc += _RO_A[s, j] * K[j, i]
                ystage[i] = acc
            _f(t + _RO_C[s] * h, ystage, p, u, K[s])
            for i in range(N_STATES):
                acc = K[s, i]
                if not AUTONOMOUS:
                    acc += _RO_D[s] * h * ft[i]
                for j in range(s):
                    acc += (_RO_CC[s, j] * inv_h) * K[j, i]
                K[s, i] = acc
            _solve_w(W, piv, K[s], sparse)
        cnt[_RHS] += _RO_S - 1
        # stiffly accurate: y_new = (argument of the last stage) + k_s, and k_s is the error estimate
        for i in range(N_STATES):
            ynew[i] = ystage[i] + K[_RO_S - 1, i]
        err = _err_norm(K[_RO_S - 1], y, ynew, rtol, atol)
        if err == math.inf:
            cnt[_REJ] += 1
            h *= _NONFINITE_SHRINK
            rejected = True
            last_nonfinite = True
            continue
        last_nonfinite = False
        if _RO_RESIDUAL and err <= 1.0:
            err = max(err, _midpoint_defect(t, h, y, ynew, p, u, rtol, atol, K))
            cnt[_RHS] += 1
        fac = max(1.0 / _GROW_MAX_RO, min(_SHRINK_MAX, err ** 0.25 / _SAFE))
        h_new = h / fac
        if err <= 1.0:
            cnt[_ACC] += 1
            if not first:
                # Gustafsson's predictive controller, as in Hairer & Wanner's RODAS
                fgus = (h_acc / h) * (err * err / err_acc) ** 0.25 / _SAFE
                fgus = max(1.0 / _GROW_MAX_RO, min(_SHRINK_MAX, fgus))
                fac = max(fac, fgus)
                h_new = h / fac
            h_acc = h
            err_acc = max(1e-2, err)
            if oi < n_out and t_eval[oi] < tb and (last or t_eval[oi] <= t + h):
                _dense_rows(K, D)
                while oi < n_out and t_eval[oi] < tb and (last or t_eval[oi] <= t + h):
                    th = min(1.0, (t_eval[oi] - t) / h)
                    for i in range(N_STATES):
                        acc = D[_RO_NH - 1, i]
                        for r in range(_RO_NH - 2, -1, -1):
                            acc = D[r, i] + th * acc
                        out[oi, i] = (1.0 - th) * y[i] + th * (ynew[i] + (1.0 - th) * acc)
                    oi += 1
            for i in range(N_STATES):
                y[i] = ynew[i]
            if last:
                return OK, tb, oi
            t = t + h
            _f(t, y, p, u, f0)
            cnt[_RHS] += 1
            if not _all_finite(f0):
                return NON_FINITE, t, oi
            need_jac = True
            if rejected:
                h_new = min(h_new, h)
            rejected = False
            first = False
            h = h_new
        else:
            cnt[_REJ] += 1
            if first:
                h = h * 0.1
            else:
                h = h_new
            rejected = True


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _dop853_segment(t, tb, p, ctl, t_eval, oi, out, cnt, ws):
    """Hairer's DOP853 from ``t`` to ``tb`` (error norm and dense output as in scipy's DOP853);
    returns (status, t reached, next output index). ``ws.K`` holds 16 stages, ``ws.F`` the 7 dense-output rows."""
    rtol, atol, max_steps = ctl.rtol, ctl.atol, ctl.max_steps
    y, u, K, ynew, ystage, F = ws.y, ws.u, ws.K, ws.ynew, ws.ystage, ws.F
    n_out = t_eval.shape[0]
    _f(t, y, p, u, K[0])
    cnt[_RHS] += 1
    if not _all_finite(K[0]):
        return NON_FINITE, t, oi
    h = _initial_step(t, y, K[0], p, u, rtol, atol, 8, tb - t, ystage, K[1])
    cnt[_RHS] += 1
    rejected = False
    last_nonfinite = False
    while True:
        status, h, last = _step_start(cnt, max_steps, h, t, tb, last_nonfinite)
        if status != OK:
            return status, t, oi
        _rk_stages(_D8_A, _D8_C, 1, 12, t, h, y, p, u, K, ystage)
        for i in range(N_STATES):
            acc = 0.0
            for j in range(12):
                acc += _D8_B[j] * K[j, i]
            ynew[i] = y[i] + h * acc
        _f(t + h, ynew, p, u, K[12])
        cnt[_RHS] += 12
        e5 = 0.0
        e3 = 0.0
        for i in range(N_STATES):
            a5 = 0.0
            a3 = 0.0
            for j in range(13):
                a5 += _D8_E5[j] * K[j, i]
                a3 += _D8_E3[j] * K[j, i]
            sc = atol[i] + rtol * max(abs(y[i]), abs(ynew[i]))
            e5 += (a5 / sc) ** 2
            e3 += (a3 / sc) ** 2
        if e5 == 0.0 and e3 == 0.0:
            err = 0.0
        else:
            err = abs(h) * e5 / math.sqrt((e5 + 0.01 * e3) * N_STATES)
        if not math.isfinite(err) or not _all_finite(K[12]):
            cnt[_REJ] += 1
            h *= _NONFINITE_SHRINK
            rejected = True
            last_nonfinite = True
            continue
        last_nonfinite = False
        if err <= 1.0:
            cnt[_ACC] += 1
            if oi < n_out and t_eval[oi] < tb and (last or t_eval[oi] <= t + h):
                _rk_stages(_D8_A, _D8_C, 13, 16, t, h, y, p, u, K, ystage)  # the dense output's extra stages
                cnt[_RHS] += 3
                for i in range(N_STATES):
                    dy = ynew[i] - y[i]
                    F[0, i] = dy
                    F[1, i] = h * K[0, i] - dy
                    F[2, i] = 2.0 * dy - h * (K[12, i] + K[0, i])
                    for r in range(4):
                        acc = 0.0
                        for j in range(16):
                            acc += _D8_D[r, j] * K[j, i]
                        F[3 + r, i] = h * acc
                while oi < n_out and t_eval[oi] < tb and (last or t_eval[oi] <= t + h):
                    x = min(1.0, (t_eval[oi] - t) / h)
                    for i in range(N_STATES):
                        v = 0.0
                        for r in range(6, -1, -1):
                            v += F[r, i]
                            v *= x if (6 - r) % 2 == 0 else 1.0 - x
                        out[oi, i] = y[i] + v
                    oi += 1
            for i in range(N_STATES):
                y[i] = ynew[i]
                K[0, i] = K[12, i]
            if last:
                return OK, tb, oi
            t = t + h
            fac = max(1.0 / _GROW_MAX_D8, min(_SHRINK_MAX_D8, err ** 0.125 / _SAFE))
            h_new = h / fac
            if rejected:
                h_new = min(h_new, h)
            rejected = False
            h = h_new
        else:
            cnt[_REJ] += 1
            h = h / min(_SHRINK_MAX_D8, err ** 0.125 / _SAFE)
            rejected = True


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _apply_jumps(t, y, ev):
    """Apply every bolus and reset of the events ``ev`` scheduled exactly at ``t``, in the order given."""
    for k in range(ev.n):
        if ev.t0[k] == t:
            if ev.kind[k] == BOLUS:
                y[ev.state[k]] += ev.value[k]
            elif ev.kind[k] == RESET:
                y[ev.state[k]] = ev.value[k]


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _input_rates(t, u, ev):
    """Sum of the rates of the infusions of ``ev`` running on ``[t, next event)``, recomputed from scratch."""
    for i in range(N_STATES):
        u[i] = 0.0
    for k in range(ev.n):
        if ev.kind[k] == INFUSION and ev.t0[k] <= t and t < ev.t1[k]:
            u[ev.state[k]] += ev.value[k]


_QSS_MAX_IT = 20     # Newton iterations of the quasi-steady-state projection
_QSS_TOL = 1e-3      # ... converged when every update is below this fraction of the state's error tolerance


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _project_qss(t, p, ctl, cnt, ws):
    """Newton on ``f_i(t, y) = 0`` for every state ``i`` in ``ctl.qss``, the other states held; returns True if it
    converged (``ws.y`` updated), else restores ``ws.y``. The linear systems are solved densely on ``W`` = the
    Jacobian's ``qss`` block embedded in the identity (the other rows and columns), so the full-size LU serves any
    subset. Scratch: ``ws.ynew`` (the Newton update) and ``ws.ystage`` (the saved state)."""
    qss, rtol, atol = ctl.qss, ctl.rtol, ctl.atol
    y, u, f0, J, W, piv, dq, ysave = ws.y, ws.u, ws.f0, ws.J, ws.W, ws.piv, ws.ynew, ws.ystage
    nq = qss.shape[0]
    for i in range(N_STATES):
        ysave[i] = y[i]
    for it in range(_QSS_MAX_IT):
        _f(t, y, p, u, f0)
        jac_pattern(t, y, p, J)
        cnt[_RHS] += 1
        cnt[_JAC] += 1
        for i in range(N_STATES):
            dq[i] = 0.0
            for j in range(N_STATES):
                W[i, j] = 0.0
            W[i, i] = 1.0
        for a in range(nq):
            i = qss[a]
            dq[i] = -f0[i]
            for b in range(nq):
                W[i, qss[b]] = J[i, qss[b]]
        if _lu_factor(W, piv) != 0:
            break
        _lu_solve(W, piv, dq)
        converged = True
        for a in range(nq):
            i = qss[a]
            y[i] += dq[i]
            if not abs(dq[i]) <= _QSS_TOL * (atol[i] + rtol * abs(y[i])):  # also catches NaN
                converged = False
        if converged:
            return True
    for i in range(N_STATES):
        y[i] = ysave[i]
    return False


@nb.njit(cache=True, error_model="numpy", _nrt=False)
def _integrate_subject(ctl, t_eval, y0, p, ev, out, cnt, ws):
    """One subject from ``t_eval[0]`` to ``t_eval[-1]`` into ``out`` (T, n) and its counters ``cnt`` (5,); returns
    its status. ``ctl``: :data:`Controls`; ``ev``: its :data:`Events`; ``ws``: the block's :data:`Work`."""
    n_out = t_eval.shape[0]
    t = t_eval[0]
    t_end = t_eval[n_out - 1]
    y = ws.y
    for i in range(N_STATES):
        y[i] = y0[i]
    stiff = ctl.method == ROSENBROCK or ctl.method == RODAS5P_FAMILY
    if stiff:
        cnt[_STIFF] = 1
    _apply_jumps(t, y, ev)
    _input_rates(t, ws.u, ev)
    if ctl.qss.shape[0] > 0:
        _project_qss(t, p, ctl, cnt, ws)
    for i in range(N_STATES):
        out[0, i] = y[i]
    oi = 1
    status = OK
    while t < t_end:
        tb = t_end
        for k in range(ev.n):
            if t < ev.t0[k] < tb:
                tb = ev.t0[k]
            if ev.kind[k] == INFUSION and t < ev.t1[k] < tb:
                tb = ev.t1[k]
        while t < tb:
            # METHOD_FAMILY is a constant of the generated module: numba prunes the other branches, so a module
            # compiles only the methods of its family.
            if METHOD_FAMILY == DOP853:
                status, t, oi = _dop853_segment(t, tb, p, ctl, t_eval, oi, out, cnt, ws)
            if METHOD_FAMILY == EXPLICIT:
                status, t, oi = _dopri_segment(t, tb, p, ctl, False, t_eval, oi, out, cnt, ws)
            if METHOD_FAMILY == RODAS5P_FAMILY:
                status, t, oi = _rodas_segment(t, tb, p, ctl, t_eval, oi, out, cnt, ws)
            if METHOD_FAMILY == AUTO:
                if stiff:
                    status, t, oi = _rodas_segment(t, tb, p, ctl, t_eval, oi, out, cnt, ws)
                else:
                    status, t, oi = _dopri_segment(t, tb, p, ctl, True, t_eval, oi, out, cnt, ws)
                    if status == _SWITCH:
                        stiff = True
                        cnt[_STIFF] = 1
                        status = OK
                        continue
            if status != OK:
                for k in range(oi, n_out):
                    for i in range(N_STATES):
                        out[k, i] = math.nan
                return status
        t = tb
        _apply_jumps(t, y, ev)
        _input_rates(t, ws.u, ev)
        if ctl.qss.shape[0] > 0 and t < t_end:  # the end is not a segment start: its output stays as integrated
            _project_qss(t, p, ctl, cnt, ws)
        while oi < n_out and t_eval[oi] == t:
            for i in range(N_STATES):
                out[oi, i] = y[i]
            oi += 1
    return status


@nb.njit(cache=True, parallel=True, error_model="numpy")
def solve_batch(ctl, t_eval, Y0, P, events, n_blocks, out, stats, status):
    """Integrate every subject; rows of ``Y0``, ``P`` and the event arrays broadcast when they have one row.

    ``ctl``: :data:`Controls` (qss: (q,) int64 state indices held at quasi-steady state, q = 0: none; atol (n,));
    ``events``: the packed schedules ``(kind, t0, t1, state, value, count)``, arrays (1|S, E) and count (1|S,).
    Shapes: t_eval (T,), Y0 (1|S, n), P (1|S, m), out (S, T, n), stats (S, 5) int64, status (S,) int64.
    """
    ekind, et0, et1, estate, evalue, ecount = events
    n_subjects = out.shape[0]
    n = N_STATES
    for b in nb.prange(n_blocks):
        lo = b * n_subjects // n_blocks
        hi = (b + 1) * n_subjects // n_blocks
        ws = Work(np.empty(n), np.empty(n), np.empty((16, n)), np.empty(n), np.empty(n), np.empty(n), np.empty(n),
                  np.zeros(n), np.zeros((n, n)), np.empty((n, n)), np.empty(n, np.int64), np.empty((3, n)),
                  np.empty((7, n)))
        for s in range(lo, hi):
            sy = s if Y0.shape[0] > 1 else 0
            sp = s if P.shape[0] > 1 else 0
            se = s if ecount.shape[0] > 1 else 0
            ev = Events(ekind[se], et0[se], et1[se], estate[se], evalue[se], ecount[se])
            status[s] = _integrate_subject(ctl, t_eval, Y0[sy], P[sp], ev, out[s], stats[s], ws)


@nb.njit(cache=True, parallel=True, error_model="numpy")
def observe_batch(t_eval, Y, P, n_blocks, out):
    """Observables at every output: out (S, T, n_obs) from Y (S, T, n) and P (1|S, m)."""
    n_subjects = Y.shape[0]
    for b in nb.prange(n_blocks):
        lo = b * n_subjects // n_blocks
        hi = (b + 1) * n_subjects // n_blocks
        for s in range(lo, hi):
            sp = s if P.shape[0] > 1 else 0
            for k in range(t_eval.shape[0]):
                obs(t_eval[k], Y[s, k], P[sp], out[s, k])
