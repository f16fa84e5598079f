"""Acceptance tests: the commands as users run them (CliRunner), the case folders, tmux captures."""
