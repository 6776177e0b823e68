"""The canonical data every part shares: the canonical schema (processes, states,
fields), records and references, dates, instance identity and the errors the tool raises.

Imports nothing of the package: every other part may import it."""
