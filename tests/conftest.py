"""Hypothesis profiles: ``ci`` (default, lean) and ``deep`` (10x the examples, for local
runs): ``SYMCNN_PROFILE=deep python -m pytest``. Slow tests that set their own number of
examples scale it with ``tests.strategies.examples``."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=15, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=150, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("SYMCNN_PROFILE", "ci"))
