"""Test-wide settings.

The tests use the same compile cache as the command line (``$KETAMINE_QSP_CACHE``, else
``~/.cache/ketamine-qsp``; see :mod:`pkpd.ode.codegen`), so a newcomer compiles each model once, whichever runs
first. A first compile is announced on the real stderr (pytest captures the rest), since it takes tens of seconds.
"""

import logging
import sys


class _Announce(logging.Handler):
    def emit(self, record):
        sys.__stderr__.write(f"\n{record.getMessage()}\n")


_log = logging.getLogger("pkpd.ode.codegen")
_log.addHandler(_Announce(logging.INFO))
_log.setLevel(logging.INFO)
