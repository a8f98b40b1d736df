"""Pure rules, no I/O: the gate, text (clipping, durations, tables) and redaction."""
