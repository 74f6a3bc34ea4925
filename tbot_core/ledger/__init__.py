"""Double-entry books that can never be half-written (seed: Ledger & Database Safeguards).

This package is the only code that writes accounting rows.  Every write goes
through :mod:`tbot_core.ledger.batch`: one transaction per batch, one COMMIT
or a ROLLBACK, a telemetry row either way and an audit event per outcome.
"""
