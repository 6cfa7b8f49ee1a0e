"""Import every command module so each registers itself on the app."""

from gitkube.cli import cmd_agent, cmd_node, cmd_pods, cmd_apply, cmd_create, cmd_create_job, cmd_delete, cmd_describe, cmd_diff, cmd_get, cmd_label, cmd_rollout, cmd_scale, cmd_status, cmd_sync, cmd_validate, cmd_watch  # noqa: F401
