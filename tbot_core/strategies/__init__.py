"""Signal generators: opening-range breakout, mid-session reversion, end-of-day momentum, and a reference SMA cross."""
