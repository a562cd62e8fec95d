"""The suite's Hypothesis profile alone, as a pytest plugin for quick runs without conftest.

``scripts/mutation`` runs the pure-function tests (``tests/test_hprim_*.py``) hundreds of times;
``-p tests.support.hypothesis_profile --noconftest`` halves each run by skipping the fixtures'
imports, and this keeps the same Hypothesis settings as ``tests/conftest.py`` (no deadline: a
loaded machine must not fail a property test for its speed).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("bridge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bridge")
