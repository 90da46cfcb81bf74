"""Ketamine pharmacokinetics, NMDA-receptor occupancy and the generic ODE engine (:mod:`pkpd.ode`)."""

__version__ = "0.1.0"
