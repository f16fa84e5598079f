"""Properties and differential tests: hypothesis fuzzing; the destination's code as oracle."""
