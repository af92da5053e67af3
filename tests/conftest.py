"""Shared test configuration.

Hypothesis runs derandomized, with no example database and no deadline, so a
failure on CI reproduces locally and the suite's duration does not depend on
which examples a previous run stored.
"""
from hypothesis import HealthCheck, settings

settings.register_profile(
    "harness",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("harness")
