"""The console in a browser (``tbot serve``): textual-serve behind a login; read-only unless ``--allow-control``."""
