"""Evaluation: a rule on a record gives a result (one implementation), with the links
between records, waivers, what the source did not provide, and the rule examples' self-test.

May import rules, the connector contract (connectors.base), support and model."""
