"""The symbolic source of truth of a model: :class:`OdeSystem`.

An ``OdeSystem`` holds states, parameters and right-hand sides as sympy objects. Everything else the engine
uses — the numba right-hand side, the analytic Jacobian, the time derivative needed by Rosenbrock methods,
the NumPy functions for the scipy reference, LaTeX for the docs — is derived from it, never written by hand.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Mapping
from functools import cached_property

import sympy

__all__ = ["OdeSystem", "parse_expression", "TEXT_FUNCTIONS"]


def _as_symbols(items: Iterable, what: str) -> tuple[sympy.Symbol, ...]:
    out = []
    for i, s in enumerate(items):
        if isinstance(s, str):
            s = sympy.Symbol(s)
        if not isinstance(s, sympy.Symbol):
            raise ValueError(f"{what}[{i}] must be a sympy Symbol or a name, got {s!r} ({type(s).__name__})")
        out.append(s)
    return tuple(out)


#: Functions a right-hand side given as text may call (sympy's own classes; each is printable by the code
#: generator). Text never reaches ``eval``/``sympify``: :func:`parse_expression` builds the sympy tree itself.
TEXT_FUNCTIONS = {f.__name__: f for f in (sympy.exp, sympy.log, sympy.sqrt, sympy.sin, sympy.cos, sympy.tan,
                                          sympy.tanh, sympy.Abs, sympy.Max, sympy.Min, sympy.Heaviside)}
TEXT_CONSTANTS = {"pi": sympy.pi, "E": sympy.E}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


def parse_expression(text: str, symbols: Mapping[str, sympy.Symbol], what: str = "expression") -> sympy.Expr:
    """A sympy expression from arithmetic text, without evaluating any code.

    Allowed: numbers, the names in ``symbols``, ``pi`` and ``E``, ``+ - * / **``, unary signs, parentheses and
    calls of :data:`TEXT_FUNCTIONS` with positional arguments. Anything else (attributes, subscripts, keywords,
    other names or calls, ``^``) is refused by name.

    Raises
    ------
    ValueError
        Naming ``what`` and the construct that is not allowed.
    """
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"{what}: cannot parse {text!r} as arithmetic ({e.msg})") from None

    def build(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return sympy.Integer(node.value) if isinstance(node.value, int) else sympy.Float(node.value)
        if isinstance(node, ast.Name):
            if node.id in symbols:
                return symbols[node.id]
            if node.id in TEXT_CONSTANTS:
                return TEXT_CONSTANTS[node.id]
            raise ValueError(f"{what}: unknown name {node.id!r} in {text!r}; expected a state, a parameter, the "
                             "time or pi/E")
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](build(node.left), build(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = build(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in TEXT_FUNCTIONS \
                and not node.keywords:
            return TEXT_FUNCTIONS[node.func.id](*(build(a) for a in node.args))
        hint = " (use ** for powers)" if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor) else ""
        raise ValueError(f"{what}: {type(node).__name__} is not allowed in {text!r}{hint}; expected arithmetic "
                         f"on states and parameters and the functions {', '.join(TEXT_FUNCTIONS)}")

    return build(tree.body)


def _expression(e, symbols: Mapping[str, sympy.Symbol], what: str) -> sympy.Expr:
    """A sympy expression, a plain number, or text through :func:`parse_expression` (never ``sympify`` on text)."""
    if isinstance(e, sympy.Basic):
        return e
    if isinstance(e, str):
        return parse_expression(e, symbols, what)
    if isinstance(e, bool) or not isinstance(e, (int, float)):
        raise ValueError(f"{what} must be a sympy expression, a number or arithmetic text, got {e!r} "
                         f"({type(e).__name__})")
    return sympy.sympify(e)


class OdeSystem:
    """A system of ordinary differential equations ``dy/dt = f(t, y, p)`` written in sympy.

    Parameters
    ----------
    states : sequence of sympy.Symbol or str
        State variables ``y``, in the order of the state vector.
    rhs : sequence of sympy expressions
        ``rhs[i]`` is ``d states[i] / dt``; same length as ``states``. Numbers and arithmetic text (read by
        :func:`parse_expression`, which evaluates no code) are accepted too.
    params : sequence of sympy.Symbol or str, optional
        Parameters ``p``, in the order of the parameter vector.
    time : sympy.Symbol, optional
        The independent variable (default ``t``). It may appear in ``rhs`` (non-autonomous systems).
    observables : mapping of str to sympy expression, optional
        Named functions of ``(t, y, p)`` computed on the solution (for example a concentration = amount / volume).
    name : str, optional
        A label used in generated file names and printed output.
    nonnegative : sequence of str or sympy.Symbol, optional
        States that are amounts and must never be driven negative: :func:`pkpd.ode.solve` refuses a negative
        initial value, bolus, infusion rate or reset on them. Not part of the equations (nor the fingerprint).

    Raises
    ------
    ValueError
        If the lengths differ, a name is used twice, or an expression contains a symbol that is neither a state,
        a parameter nor the time.
    """

    def __init__(self, states, rhs, params=(), *, time=sympy.Symbol("t"), observables=None, name=None,
                 nonnegative=()):
        self.states = _as_symbols(states, "states")
        self.params = _as_symbols(params, "params")
        if not isinstance(time, sympy.Symbol):
            raise ValueError(f"time must be a sympy Symbol, got {time!r}")
        self.time = time
        rhs = list(rhs)
        if len(self.states) == 0:
            raise ValueError("states must hold at least one state, got none")
        if len(rhs) != len(self.states):
            raise ValueError(f"rhs must have one expression per state: got {len(rhs)} expressions "
                             f"for {len(self.states)} states")
        symbols = {str(s): s for s in (*self.states, *self.params, self.time)}
        self.rhs = tuple(_expression(e, symbols, f"rhs[{i}]") for i, e in enumerate(rhs))
        observables = dict(observables or {})
        self.observables = {str(k): _expression(v, symbols, f"observables[{str(k)!r}]")
                            for k, v in observables.items()}
        self.name = str(name) if name is not None else "system"
        if not self.name.replace("_", "").isalnum():
            raise ValueError(f"name must be letters, digits and underscores, got {self.name!r}")

        names = [str(s) for s in (*self.states, *self.params, self.time)]
        seen = set()
        for n in names:
            if n in seen:
                raise ValueError(f"the name {n!r} is used more than once among states, params and time; "
                                 "every name must be unique")
            seen.add(n)
        known = {*self.states, *self.params, self.time}
        for label, exprs in (("rhs", dict(zip(map(str, self.states), self.rhs))), ("observables", self.observables)):
            for key, e in exprs.items():
                extra = e.free_symbols - known
                if extra:
                    raise ValueError(f"{label}[{key!r}] contains {sorted(map(str, extra))}, which are neither "
                                     "states, params nor the time symbol; declare them as params")
        for key in self.observables:
            if not key.isidentifier():
                raise ValueError(f"observable name {key!r} must be a Python identifier")
        self.nonnegative = tuple(self.state_names[self.state_index(str(s))] for s in nonnegative)

    # ---- names and indices -------------------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_params(self) -> int:
        return len(self.params)

    @cached_property
    def state_names(self) -> tuple[str, ...]:
        return tuple(map(str, self.states))

    @cached_property
    def param_names(self) -> tuple[str, ...]:
        return tuple(map(str, self.params))

    @cached_property
    def _state_position(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.state_names)}

    @property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(self.observables)

    def state_index(self, state) -> int:
        """Index of a state given by name, symbol or index; ``ValueError`` naming the valid states otherwise."""
        if isinstance(state, (int,)) and not isinstance(state, bool):
            if 0 <= state < self.n_states:
                return int(state)
            raise ValueError(f"state index {state} is out of range 0..{self.n_states - 1}")
        name = str(state)
        try:
            return self._state_position[name]
        except KeyError:
            raise ValueError(f"unknown state {name!r}; expected one of {list(self.state_names)}") from None

    def freeze(self, states, *, name: str | None = None) -> "OdeSystem":
        """The same equations with ``states`` held constant: they become parameters, appended after
        :attr:`params` in the order given, and the other states keep their equations (and their order).

        For a fast subsystem over a window in which the frozen states barely move (a few seconds of neural
        dynamics beside hours-long drug and plasticity states). Observables are kept.

        Parameters
        ----------
        states : sequence of str or sympy.Symbol
            States to hold constant; at least one state must be left.
        name : str, optional
            Name of the new system (default ``<name>_frozen``).
        """
        frozen = [self.states[self.state_index(s)] for s in states]
        if len(set(frozen)) != len(frozen):
            raise ValueError(f"states: a state is named twice in {[str(s) for s in frozen]}")
        keep = [i for i, s in enumerate(self.states) if s not in set(frozen)]
        if not keep:
            raise ValueError("states: freezing every state leaves no equation")
        return OdeSystem([self.states[i] for i in keep], [self.rhs[i] for i in keep], (*self.params, *frozen),
                         time=self.time, observables=self.observables, name=name or f"{self.name}_frozen",
                         nonnegative=[s for s in self.nonnegative if self.states[self.state_index(s)] not in frozen])

    # ---- derived symbolic objects ------------------------------------------------------------------------
    @cached_property
    def _piecewise_rhs(self) -> tuple:
        # Steps are differentiated as Piecewise (derivative 0 away from the jump), never as DiracDelta.
        return tuple(e.rewrite(sympy.Piecewise) if e.has(sympy.Heaviside) else e for e in self.rhs)

    @cached_property
    def jacobian(self) -> sympy.Matrix:
        """Dense Jacobian ``df_i/dy_j`` (n_states, n_states), symbolic."""
        return sympy.Matrix(self._piecewise_rhs).jacobian(sympy.Matrix(self.states))

    @cached_property
    def time_derivative(self) -> tuple:
        """``df_i/dt`` (zero for autonomous systems), needed by Rosenbrock methods."""
        return tuple(sympy.diff(e, self.time) for e in self._piecewise_rhs)

    @property
    def autonomous(self) -> bool:
        return all(self.time not in e.free_symbols for e in self.rhs)

    @cached_property
    def fingerprint(self) -> str:
        """A content hash of the system (states, params, time, equations, observables)."""
        text = repr((self.name, [sympy.srepr(s) for s in self.states], [sympy.srepr(s) for s in self.params],
                     sympy.srepr(self.time), [sympy.srepr(e) for e in self.rhs],
                     sorted((k, sympy.srepr(v)) for k, v in self.observables.items())))
        return hashlib.sha256(text.encode()).hexdigest()

    # ---- printing ----------------------------------------------------------------------------------------
    def equations(self) -> list[str]:
        """The equations as plain text lines, ``d<state>/dt = <expr>``, then observables."""
        lines = [f"d{s}/d{self.time} = {sympy.sstr(e)}" for s, e in zip(self.states, self.rhs)]
        lines += [f"{k} = {sympy.sstr(v)}" for k, v in self.observables.items()]
        return lines

    def latex(self) -> str:
        """The equations as a LaTeX ``aligned`` block."""
        t = sympy.latex(self.time)
        rows = [rf"\frac{{d{sympy.latex(s)}}}{{d{t}}} &= {sympy.latex(e)}" for s, e in zip(self.states, self.rhs)]
        rows += [rf"\mathrm{{{k}}} &= {sympy.latex(v)}".replace("_", r"\_") for k, v in self.observables.items()]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    # ---- NumPy functions for the independent scipy reference ---------------------------------------------
    def lambdify(self):
        """NumPy callables ``(rhs(t, y, p) -> (n,), jac(t, y, p) -> (n, n))`` built with :func:`sympy.lambdify`.

        These are slow but independent of the numba code generator, which makes them a reference.
        """
        ys = sympy.symbols(f"_y0:{self.n_states}")
        ps = sympy.symbols(f"_p0:{self.n_params}") if self.n_params else ()
        sub = dict(zip(self.states, ys)) | dict(zip(self.params, ps))
        f = sympy.lambdify((self.time, ys, ps), [e.xreplace(sub) for e in self.rhs], "numpy")
        j = sympy.lambdify((self.time, ys, ps), self.jacobian.xreplace(sub), "numpy")

        import numpy as np

        n = self.n_states

        def rhs(t, y, p=()):
            return np.array(f(t, y, p), dtype=float).reshape(n)

        def jac(t, y, p=()):
            return np.array(j(t, y, p), dtype=float).reshape(n, n)

        return rhs, jac

    def __repr__(self) -> str:
        return f"OdeSystem(name={self.name!r}, states={list(self.state_names)}, params={list(self.param_names)})"
