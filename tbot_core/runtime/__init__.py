"""The supervisor process and the engine it runs."""
