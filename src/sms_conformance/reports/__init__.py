"""Report renderers: each reads a finished scan from the history store."""
