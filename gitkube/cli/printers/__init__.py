"""What `get` and `describe` print, in kubectl's formats.

- `table`: Go's text/tabwriter (the alignment kubectl uses) and the decorations `get` adds
  (NAMESPACE, `-L` label columns, LABELS).
- `columns`: the columns of each kind, as kubectl's printers define them.
- `format`: cell values: ages (HumanDuration), pod STATUS/READY/RESTARTS, Service ports, endpoints.
- `structured`: `-o yaml|json|name`.
- `describe`: `describe` text for each kind, built from `sections` (the aligned writer, metadata,
  containers, pod templates, conditions, events).
- `naming`: kinds as users type them, and the kubectl messages that name objects.

Everything here is pure: objects and `now` (seconds since the epoch) in, text out (`describe`
also reads related objects and events through the Store interface).
"""
