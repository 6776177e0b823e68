"""Small utilities without domain knowledge: strict YAML with line numbers, the
`source:` limits, durations, read-ahead, printable text, redaction of credentials, safe file
writes, terminal colour, settings-part validation.

May import model only."""
