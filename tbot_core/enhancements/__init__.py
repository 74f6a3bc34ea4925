"""The nine enhancement modules of the seed, their base class and their registry."""
