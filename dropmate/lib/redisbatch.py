"""Redis commands of one event loop sent in pipelines: every command queued while a pipeline
is in flight goes in the next one, so a burst costs one round trip and a lone command goes at
once. Used by the channel layer's group sends and the live store's fix claims."""

import asyncio
from collections.abc import Callable
from typing import Any


class PipelineBatcher:
    """`await batcher.call(lambda pipe: pipe.publish(...))` queues one command and returns
    its reply (or raises its error, or the pipeline's)."""

    def __init__(self, client: Callable[[], Any]) -> None:
        # Called for every pipeline, so a client closed and re-made meanwhile is picked up.
        self.client = client
        self.pending: list[tuple[Callable[[Any], Any], asyncio.Future]] = []
        self.task: asyncio.Task | None = None
        # Pipelines sent so far (tests check that bursts are batched).
        self.pipelines = 0

    async def call(self, command: Callable[[Any], Any]) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((command, future))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                async with self.client().pipeline(transaction=False) as pipe:
                    for command, _ in batch:
                        command(pipe)
                    replies = await pipe.execute(raise_on_error=False)
                self.pipelines += 1
            except Exception as exc:  # noqa: BLE001 (handed to every waiting caller)
                replies = [exc] * len(batch)
            for reply, (_, future) in zip(replies, batch, strict=True):
                if future.done():
                    continue
                if isinstance(reply, Exception):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
