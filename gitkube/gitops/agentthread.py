"""The agent in a background thread of a long-running command (`sync`, `watch`).

It gets its own Store connection (the loop and the agent never wait on each other's lock) and
takes the `agent` lease like any agent: with another `gitkube agent` already running it simply
waits its turn. Stopping finishes the current pass; containers keep running.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("gitkube.gitops")


class AgentThread:
    def __init__(self, state_path: str, ssh_options: object | None = None, resync: float | None = None):
        from gitkube.agent.loop import Agent
        from gitkube.store import open_store

        self.store = open_store(state_path)
        kwargs = {} if resync is None else {"resync": resync}
        self.agent = Agent(self.store, ssh_options=ssh_options, **kwargs)
        self.error: BaseException | None = None
        self._started = False
        self._thread = threading.Thread(target=self._run, name="agent", daemon=True)

    def _run(self) -> None:
        try:
            self.agent.run()
        except BaseException as exc:  # reported by the owner; the loop keeps the declared state
            self.error = exc
            log.error("the agent stopped: %s: %s", type(exc).__name__, exc)

    def start(self) -> AgentThread:
        self._started = True
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 60.0) -> None:
        self.agent.stop()
        if not self._started:
            self.agent.close()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self.store.close()
