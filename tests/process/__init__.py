"""Several real processes: concurrent replays, signals, kills, hostile servers, security."""
