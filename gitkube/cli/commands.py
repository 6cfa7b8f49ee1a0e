"""Import every command module so each registers itself on the app."""

from gitkube.cli import cmd_agent, cmd_apply, cmd_diff, cmd_validate  # noqa: F401
