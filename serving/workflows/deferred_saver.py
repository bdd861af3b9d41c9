"""The checkpointer the runner's graphs are compiled with: PostgreSQL's, with a run's writes held until the
runner knows whether the run needs them.

A graph streamed with durability "exit" writes its checkpoint once, when it stops. Only a run that stops at a
wait needs it (the resume starts from its interrupt); a run that ended, or failed, would have it deleted at once
(its history is its step rows). So `put` and `put_writes` are held in memory per thread (run id): the runner
`keep`s them (written to PostgreSQL) when the run waits, and `drop`s them otherwise. A run the runner knows is
new (`fresh`: queued, never executed) has nothing stored, so reading its checkpoint costs no round trip either.
Reads of other runs, listing and deletion go to the PostgreSQL saver.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)


class DeferredSaver(BaseCheckpointSaver):
    def __init__(self, saver: BaseCheckpointSaver):
        super().__init__(serde=saver.serde)
        self.saver = saver
        self._lock = threading.Lock()
        self._held: dict[str, list[tuple[str, tuple]]] = {}
        self._fresh: set[str] = set()

    @staticmethod
    def _thread(config: RunnableConfig) -> str:
        return str(config["configurable"]["thread_id"])

    # ---- what the runner says ------------------------------------------------------------------------------

    def fresh(self, thread_id: str) -> None:
        """This run has never executed: nothing is stored for it."""
        with self._lock:
            self._fresh.add(thread_id)

    def keep(self, thread_id: str) -> None:
        """Write what the run's graph checkpointed (it waits: the resume needs it)."""
        with self._lock:
            held = self._held.pop(thread_id, [])
            self._fresh.discard(thread_id)
        for method, args in held:
            getattr(self.saver, method)(*args)

    def drop(self, thread_id: str) -> None:
        """Forget what the run's graph checkpointed (it ended, or its batch was abandoned)."""
        with self._lock:
            self._held.pop(thread_id, None)
            self._fresh.discard(thread_id)

    # ---- the saver's interface -----------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        with self._lock:
            if self._thread(config) in self._fresh:
                return None
        return self.saver.get_tuple(config)

    def list(self, config: RunnableConfig | None, **kwargs: Any) -> Iterator[CheckpointTuple]:
        return self.saver.list(config, **kwargs)

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        with self._lock:
            self._held.setdefault(self._thread(config), []).append(
                ("put", (config, checkpoint, metadata, new_versions)))
        return {"configurable": {"thread_id": config["configurable"]["thread_id"],
                                 "checkpoint_ns": config["configurable"].get("checkpoint_ns", ""),
                                 "checkpoint_id": checkpoint["id"]}}

    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        with self._lock:
            self._held.setdefault(self._thread(config), []).append(
                ("put_writes", (config, list(writes), task_id, task_path)))

    def delete_thread(self, thread_id: str) -> None:
        self.drop(str(thread_id))
        self.saver.delete_thread(thread_id)

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.saver.get_next_version(current, channel)
