"""A third platform, as small as one can be: what adding a platform takes (docs/connectors.md).
Registered by the tests that use it; nothing in src/ knows it."""
