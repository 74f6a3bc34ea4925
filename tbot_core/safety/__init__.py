"""Core safety systems: kill switch, watchdog, risk bot, security bot, error handler, notifier."""
