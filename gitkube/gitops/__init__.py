"""GitOps on top of apply: Git sources, the sync loop, the watch loop and per-source status.

- `gitsource`  a local mirror per repository URL (clone once, fetch afterwards), ref resolution,
               manifests read from a commit's tree (never from a work tree), git errors mapped to
               one-line SourceErrors
- `reader`     turn a source (-f paths or --repo/--ref/--path) into validated objects + SourceInfo
- `record`     apply a plan and record, in the source's inventory, what the live objects looked like
               (fingerprints) and how the last sync went; `status` reads it back
- `status`     per source: objects in sync / out of sync / missing, last sync, drift
- `agentthread` the agent in a thread of the same process (sync and watch keep pods running)
- `sync`       poll a Git ref: validate → diff → apply (→ prune); drift report or self-heal
- `watch`      watch a directory: validate → print diff → apply on every saved edit
"""
