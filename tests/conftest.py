"""Hypothesis profiles (symcnn.strategies): ``ci`` (default, lean) and ``deep`` (10x the
examples, for local runs): ``SYMCNN_PROFILE=deep python -m pytest``. Slow tests that set
their own number of examples scale it with ``symcnn.strategies.examples``."""

from symcnn.strategies import register_profiles

register_profiles()
