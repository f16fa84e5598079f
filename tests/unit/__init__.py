"""Unit tests: one module of the core at a time (a real loopback server where one speaks HTTP)."""
