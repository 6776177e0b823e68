"""The rule language: the rule model, parsing and checks (the operators it offers), the
loader, example records, the generated reference, and the built-in ISO/IEC 20000-1 pack.

May import support and model only."""
