"""Rule language, the operators it offers, and the built-in ISO/IEC 20000-1 pack."""
