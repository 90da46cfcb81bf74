"""Named parameter overrides: every model parameter by one stable name, unit-checked and bounds-checked.

A *parameter space* (:class:`ParameterSpace`) maps names to :class:`ParamSpec` (unit, bounds, kind, source,
default, and the *target* that applies it). The names are the fields of the parameter dataclasses
(:func:`pkpd.parameters.param`), exactly as ``ketamine params`` lists them:

* the active PK set's own fields (``cl_L_per_h``, ``v_L``, ``kp_brain``, … of ``mouse``, ``kamp2020``, …;
  human sets give clearances and volumes per 70 kg, scaled allometrically to the subject);
* each route's absorption as ``route.<route>.<field>`` (``route.ip.ka_per_h``, ``route.oral.f_systemic``);
* the NMDA block (``ki_s_ketamine_uM``, ``interneuron_potency_ratio``, ``trap_k_on_per_h``, …);
* the circuit's fields (registered by :mod:`circuits.sensitivity`).

A name may also be given by its *stem*, the field name without its unit suffix, case-insensitively, where that
is unambiguous (``CL`` for ``cl_L_per_h``, ``V`` for ``v_L``, ``tau_a`` for ``tau_a_h``); outputs always record the
canonical name. Values are numbers in the parameter's own unit or text with a unit (``"40 L/h"``,
``"666.7 mL/min"``), converted by :func:`convert_unit`, and must lie within the declared bounds. An unknown name
raises ``ValueError`` naming the closest matches (:mod:`difflib`).

Mouse calibration targets. The mouse set's clearance and brain partition are *calibrated* to its
``half_life_min`` and ``brain_plasma_ratio``; overriding a target re-runs that calibration
(:meth:`pkpd.pk_models.MouseKetamine.calibrated`), so the target moves the model; overriding ``cl_L_per_h`` or
``kp_brain`` directly sets them (and wins over a recalibration).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ParamSpec", "ParameterSpace", "specs_of", "parse_unit", "convert_unit", "parse_value",
           "parse_assignment", "read_params_file", "collect_overrides", "pk_space", "apply_pk",
           "with_routes", "with_typical"]

# ---- units ----------------------------------------------------------------------------------------------------
# base dimensions: time (s), volume (L), amount (mol), current (A), mass (kg); factor to those base units
_T, _V, _N, _I, _M = range(5)


def _dim(**k) -> tuple:
    d = [0] * 5
    for name, p in k.items():
        d[{"t": _T, "v": _V, "n": _N, "i": _I, "m": _M}[name]] = p
    return tuple(d)


_ATOMS: dict[str, tuple[tuple, float]] = {"1": (_dim(), 1.0), "%": (_dim(), 0.01)}
for _u, _f in (("s", 1.0), ("sec", 1.0), ("ms", 1e-3), ("min", 60.0), ("h", 3600.0), ("hr", 3600.0),
               ("d", 86400.0), ("day", 86400.0), ("w", 604800.0), ("week", 604800.0)):
    _ATOMS[_u] = (_dim(t=1), _f)
for _u, _f in (("Hz", 1.0), ("kHz", 1e3)):
    _ATOMS[_u] = (_dim(t=-1), _f)
for _u, _f in (("L", 1.0), ("dL", 0.1), ("mL", 1e-3), ("uL", 1e-6)):
    _ATOMS[_u] = (_dim(v=1), _f)
for _u, _f in (("mol", 1.0), ("mmol", 1e-3), ("umol", 1e-6), ("nmol", 1e-9)):
    _ATOMS[_u] = (_dim(n=1), _f)
for _u, _f in (("M", 1.0), ("mM", 1e-3), ("uM", 1e-6), ("nM", 1e-9)):
    _ATOMS[_u] = (_dim(n=1, v=-1), _f)
for _u, _f in (("A", 1.0), ("mA", 1e-3), ("uA", 1e-6), ("nA", 1e-9), ("pA", 1e-12)):
    _ATOMS[_u] = (_dim(i=1), _f)
for _u, _f in (("C", 1.0), ("uC", 1e-6), ("nC", 1e-9), ("pC", 1e-12)):
    _ATOMS[_u] = (_dim(i=1, t=1), _f)
for _u, _f in (("kg", 1.0), ("g", 1e-3), ("mg", 1e-6), ("ug", 1e-9), ("ng", 1e-12)):
    _ATOMS[_u] = (_dim(m=1), _f)
_SPELLINGS = {"µ": "u", "μ": "u", "mcg": "ug", "hour": "h", "hours": "h", "days": "d", "l": "L", "ml": "mL",
              "ul": "uL", "dl": "dL", "um": "uM", "nm": "nM", "mm": "mM", "hz": "Hz", "khz": "kHz"}


def parse_unit(text: str, field: str = "unit") -> tuple[tuple, float]:
    """Dimensions and factor to base units of a unit such as ``L/h``, ``mL/min``, ``1/h``, ``uM/s``, ``pA/Hz``.

    Products are written with ``*`` or ``.``; every atom after the first ``/`` divides (``mL/min/kg``).

    Returns
    -------
    dims : tuple of int
        Exponents of (time, volume, amount, current, mass).
    factor : float
        One of this unit in base units (s, L, mol, A, kg).
    """
    s = str(text).strip().replace(" ", "")
    for a, b in (("µ", "u"), ("μ", "u")):
        s = s.replace(a, b)
    if not s:
        return _dim(), 1.0
    num, *dens = s.split("/")
    dims, factor = [0] * 5, 1.0
    for sign, part in [(1, num)] + [(-1, d) for d in dens]:
        for atom in re.split(r"[*.·]", part):
            key = atom if atom in _ATOMS else _SPELLINGS.get(atom, _SPELLINGS.get(atom.lower(), atom))
            if key not in _ATOMS:
                raise ValueError(f"{field}: unknown unit {atom!r} in {text!r}")
            d, f = _ATOMS[key]
            dims = [a + sign * b for a, b in zip(dims, d)]
            factor *= f ** sign
    return tuple(dims), factor


def convert_unit(value: float, from_unit: str, to_unit: str, field: str = "value") -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit`` (``ValueError`` naming ``field`` if the dimensions
    differ, e.g. a volume given for a clearance)."""
    d1, f1 = parse_unit(from_unit, field)
    d2, f2 = parse_unit(to_unit, field)
    if d1 != d2:
        raise ValueError(f"{field}: expected a value in {to_unit} (or a unit of the same dimension), got "
                         f"{from_unit!r}")
    return value * f1 / f2


# ---- parameter specs ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One named parameter: where it lives (``group``, ``target``, ``field``) and what it may be."""

    name: str
    group: str
    target: str
    field: str
    unit: str
    bounds: tuple[float, float]
    kind: str
    source: str
    default: float

    @property
    def stem(self) -> str:
        """The name without its unit suffix (``cl_L_per_h`` -> ``cl``), or the name if it has none."""
        base = self.field
        u = self.unit.replace("1/", "per_").replace("/", "_per_")
        if u not in ("1", "") and base.endswith("_" + u) and len(base) > len(u) + 1:
            return base[: -len(u) - 1]
        return base


def specs_of(obj, group: str, target: str, *, prefix: str = "", exclude=()) -> list[ParamSpec]:
    """A :class:`ParamSpec` for every :func:`pkpd.parameters.param` field of a dataclass instance."""
    out = []
    for f in dataclasses.fields(obj):
        if "unit" not in f.metadata or f.name in exclude:
            continue
        out.append(ParamSpec(prefix + f.name, group, target, f.name, f.metadata["unit"], tuple(f.metadata["bounds"]),
                             f.metadata["kind"], f.metadata["source"], float(getattr(obj, f.name))))
    return out


class ParameterSpace:
    """Named parameters of one model context (a PK set with its routes and the NMDA block; plus the circuit).

    Parameters
    ----------
    specs : iterable of ParamSpec
        Later specs with the same name replace earlier ones (the circuit's calibrated interneuron potency ratio
        replaces the receptor's placeholder).
    """

    def __init__(self, specs):
        self.specs: dict[str, ParamSpec] = {}
        for s in specs:
            self.specs[s.name] = s
        stems: dict[str, list[str]] = {}
        for s in self.specs.values():
            if s.stem != s.name:
                stems.setdefault(s.stem.lower(), []).append(s.name)
        lower = {n.lower(): n for n in self.specs}
        self._aliases = {k: v[0] for k, v in stems.items() if len(v) == 1 and k not in lower}
        self._lower = lower

    def __contains__(self, name) -> bool:
        try:
            self.canonical(name)
            return True
        except ValueError:
            return False

    def __iter__(self):
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, name: str) -> ParamSpec:
        return self.specs[self.canonical(name)]

    def canonical(self, name: str) -> str:
        """The canonical name of ``name`` (itself, case-insensitively, or a unique unit-less stem)."""
        n = str(name).strip()
        if n in self.specs:
            return n
        key = n.lower()
        if key in self._lower:
            return self._lower[key]
        if key in self._aliases:
            return self._aliases[key]
        close = difflib.get_close_matches(n, list(self.specs), n=3, cutoff=0.5) or \
            difflib.get_close_matches(key, list(self._aliases), n=3, cutoff=0.6)
        close = [self._aliases.get(c, c) for c in close]
        hint = f"; did you mean {', '.join(dict.fromkeys(close))}?" if close else ""
        raise ValueError(f"param: unknown parameter {n!r}{hint} (`ketamine params` lists them)")

    def value(self, name: str, value) -> float:
        """``value`` (a number in the parameter's unit, or text ``"40 L/h"``) checked and in the parameter's unit."""
        return parse_value(value, self[name])

    def resolve(self, params: Mapping | None) -> dict[str, float]:
        """``{canonical name: value in its unit}`` for a mapping of names to values (checked, in order given)."""
        out: dict[str, float] = {}
        for k, v in (params or {}).items():
            spec = self[k]
            if spec.name in out:
                raise ValueError(f"param: {spec.name!r} given twice (as {k!r})")
            out[spec.name] = parse_value(v, spec)
        return out

    def record(self, values: Mapping[str, float], given: Mapping | None = None) -> list[dict]:
        """One JSON-able row per override: name, value, unit, default, group, kind (and the text given)."""
        given = {self.canonical(k): v for k, v in (given or {}).items()}
        rows = []
        for n, v in values.items():
            s = self.specs[n]
            row = {"name": n, "value": v, "unit": s.unit, "default": s.default, "group": s.group, "kind": s.kind}
            if n in given:
                row["given"] = str(given[n])
            rows.append(row)
        return rows

    def select(self, which: str) -> list[str]:
        """Names for ``assumed``, ``calibrated``, ``published``, ``all`` or a comma-separated list of names."""
        w = str(which).strip()
        if w == "all":
            return [n for n, s in self.specs.items() if s.kind != "derived"]
        if w in ("assumed", "calibrated", "published"):
            return [n for n, s in self.specs.items() if s.kind == w]
        names = [self.canonical(p) for p in w.split(",") if p.strip()]
        if not names:
            raise ValueError("params: expected assumed, calibrated, all or a comma-separated list of names")
        return list(dict.fromkeys(names))


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_value(value, spec: ParamSpec) -> float:
    """A parameter value in ``spec.unit``: a number (already in that unit) or ``"<number> <unit>"``; within bounds.

    Raises
    ------
    ValueError
        ``"<name>: ..."`` for text that is not a number with a unit, a unit of another dimension, a non-finite
        value or one outside ``spec.bounds``.
    """
    if isinstance(value, bool):
        raise ValueError(f"{spec.name}: expected a number in {spec.unit}, got {value!r}")
    if isinstance(value, (int, float)):
        v = float(value)
    else:
        s = str(value).strip()
        m = re.fullmatch(rf"({_NUMBER})\s*(.*)", s)
        if not m:
            raise ValueError(f"{spec.name}: cannot read {value!r}; expected a number with an optional unit, "
                             f"e.g. '{spec.default:g} {spec.unit}'")
        v = float(m.group(1))
        if m.group(2):
            v = convert_unit(v, m.group(2), spec.unit, spec.name)
    lo, hi = spec.bounds
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{spec.name}: expected a value in [{lo:g}, {hi:g}] {spec.unit}, got {value!r}")
    return v


# ---- reading overrides ------------------------------------------------------------------------------------------
def parse_assignment(text: str) -> tuple[str, str]:
    """``"NAME=VALUE[UNIT]"`` -> ``(NAME, "VALUE[UNIT]")`` (the value is checked when the name is resolved)."""
    name, sep, value = str(text).partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValueError(f"param: expected NAME=VALUE[UNIT] (e.g. cl_L_per_h=40L/h), got {text!r}")
    return name.strip(), value.strip()


def read_params_file(path) -> dict[str, object]:
    """Overrides from a TOML file: ``NAME = 40`` (the parameter's unit) or ``NAME = "40 L/h"``, at top level or
    in a ``[params]`` table."""
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"params: no such file {str(p)!r}")
    try:
        data = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"params: {str(p)!r} is not valid TOML ({e})") from None
    data = data.get("params", data) if isinstance(data.get("params"), dict) else data
    for k, v in data.items():
        if isinstance(v, (dict, list)) or isinstance(v, bool):
            raise ValueError(f"params: {k!r} in {str(p)!r} must be a number or a string with a unit, got {v!r}")
    return dict(data)


def collect_overrides(assignments=None, params_file=None) -> dict[str, object]:
    """Raw overrides from ``--params FILE`` then ``--param NAME=VALUE`` (the command line wins)."""
    out: dict[str, object] = {}
    if params_file is not None:
        out.update(read_params_file(params_file))
    for a in assignments or ():
        k, v = parse_assignment(a)
        out[k] = v
    return out


# ---- the PK context ---------------------------------------------------------------------------------------------
def pk_space(model) -> ParameterSpace:
    """Named parameters of one PK set: its fields, its routes (``route.<r>.<field>``) and the NMDA block."""
    from .receptor import NmdaParams

    specs = specs_of(model, model.name, "pk")
    for route, a in model.routes().items():
        for fname, unit, hi in (("ka_per_h", "1/h", 1e4), ("f_systemic", "1", 1.0), ("f_hepatic", "1", 1.0),
                                ("f_presystemic_nor", "1", 1.0)):
            kind = a.ka_kind if fname == "ka_per_h" else a.kind
            specs.append(ParamSpec(f"route.{route}.{fname}", f"{model.name}.route.{route}", f"route:{route}", fname,
                                   unit, (1e-9 if fname == "ka_per_h" else 0.0, hi), kind, a.source,
                                   float(getattr(a, fname))))
    specs += specs_of(NmdaParams(), "nmda", "nmda")
    return ParameterSpace(specs)


def with_routes(model, changes: Mapping[str, Mapping[str, float]]):
    """A copy of the PK set ``model`` whose routes have the absorption fields ``changes[route]`` changed.

    The copy is an instance of a subclass of the set's class that overrides only :meth:`routes`, so every other
    method (disposition, dose parts, the hepato-portal depots of a subclass) and every field stay the set's own,
    and the copy can be changed like the set (``dataclasses.replace``, the cohorts' vectorised fields). Raises
    ``ValueError`` for a route the set does not have or fractions that add up to more than 1.
    """
    base_cls = type(model)
    table = base_cls.routes(model)
    for r in changes:
        if r not in table:
            raise ValueError(f"route: the {model.name} PK model has no route {r!r}; expected one of {', '.join(table)}")
    frozen = {r: dict(c) for r, c in changes.items()}

    def routes(self):
        return {r: dataclasses.replace(a, **frozen.get(r, {})) for r, a in base_cls.routes(self).items()}

    cls = type(base_cls.__name__, (base_cls,), {"routes": routes, "route_overrides": frozen,
                                                "__module__": base_cls.__module__})
    new = object.__new__(cls)
    new.__dict__.update(model.__dict__)
    new.routes()  # RouteAbsorption checks the changed fractions now
    return new


def apply_pk(model, nmda, values: Mapping[str, float], space: ParameterSpace | None = None):
    """``(model, nmda)`` with the overrides ``values`` (canonical names of :func:`pk_space`) applied.

    Names of other targets (the circuit's) are ignored here; their owners apply them.
    """
    space = space or pk_space(model)
    fields, routes, receptor = {}, {}, {}
    for n, v in values.items():
        s = space.specs.get(n)
        if s is None:
            continue
        if s.target == "pk":
            fields[s.field] = v
        elif s.target.startswith("route:"):
            routes.setdefault(s.target[6:], {})[s.field] = v
        elif s.target == "nmda":
            receptor[s.field] = v
    if fields:
        targets = getattr(type(model), "calibration_targets", {})
        if any(f in targets for f in fields):
            calibrated = type(model).calibrated(**{k: v for k, v in fields.items() if k not in targets.values()})
            model = dataclasses.replace(calibrated, **{k: v for k, v in fields.items() if k in targets.values()})
        else:
            model = dataclasses.replace(model, **fields)
    if routes:
        model = with_routes(model, routes)
    if receptor:
        nmda = dataclasses.replace(nmda, **receptor)
    return model, nmda


def with_typical(population, values: Mapping[str, float]):
    """``population`` with the typical values of its varied parameters replaced by the overrides among
    ``values`` (a cohort varies around the overridden value)."""
    hits = {n: v for n, v in values.items() if n in population.typical}
    if not hits:
        return population
    return dataclasses.replace(population, typical={**population.typical, **hits})
