"""ISO/IEC 20000-1 conformance monitor for ITSM records."""

__version__ = "0.1.0"
