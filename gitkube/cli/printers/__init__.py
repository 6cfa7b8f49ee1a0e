"""What `get` and `describe` print, in kubectl's formats.

- `table`: Go's text/tabwriter (the alignment kubectl uses) and the decorations `get` adds
  (NAMESPACE, `-L` label columns, LABELS).
- `columns`: the columns of each kind, as kubectl's printers define them.
- `format`: cell values: ages (HumanDuration), pod STATUS/READY/RESTARTS, Service ports, endpoints.
- `structured`: `-o yaml|json|name`.
- `describe`: `describe` text for each kind.

Everything here is pure: objects and `now` (seconds since the epoch) in, text out.
"""
