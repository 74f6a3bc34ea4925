"""TradeBot operator console (Textual). Reads state.json and the audit log; writes control flags only."""
