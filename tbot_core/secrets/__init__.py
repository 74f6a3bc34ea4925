"""Keys, encrypted artifacts, the secret store and atomic key rotation."""
