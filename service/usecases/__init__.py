"""Use cases: one module per area, the only place that authorizes a caller for a record (provider
scoping), masks identity, audits and raises domain errors. They take a connection, a Principal and
typed input and return typed output; they import no web framework (docs/design.md, "Layers")."""
