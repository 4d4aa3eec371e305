"""Pre-trade risk: limits per account, trading states (the kill switch), and the
pure decision that checks a batch's legs against them (docs/RISK.md).

Nothing here does I/O on its own but reading the limits file at start: the
decision functions are pure so that workflow code can call them and replay
the same.
"""
