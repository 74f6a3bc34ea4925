"""The seeded fault simulator: one seed, one reproducible run of the real core under faults (see README)."""
