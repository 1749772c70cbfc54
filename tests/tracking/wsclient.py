"""A small driver for consumer tests: WebsocketCommunicator against the routes, with the user
put in the scope as the session middleware would."""

import asyncio
import json

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from tracking.routing import websocket_urlpatterns

app = URLRouter(websocket_urlpatterns)


class Socket:
    def __init__(self, user, path: str) -> None:
        self.comm = WebsocketCommunicator(app, path)
        self.comm.scope["user"] = user or AnonymousUser()

    async def open(self) -> "Socket":
        connected, _ = await self.comm.connect(timeout=5)
        assert connected
        return self

    async def send(self, type_: str, data=None) -> None:
        await self.comm.send_to(text_data=json.dumps({"type": type_, "data": data or {}}))

    async def raw(self, text: str | None = None, data: bytes | None = None) -> None:
        await self.comm.send_to(text_data=text, bytes_data=data)

    async def _output(self, timeout: float) -> dict:
        # receive_output() cancels the application on a timeout; poll instead, so waiting for
        # quiet never kills the socket under test.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.comm.output_queue.empty():
            if self.comm.future.done():
                self.comm.future.result()  # the consumer crashed: raise its error
                raise AssertionError("the consumer stopped without closing")
            if loop.time() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.005)
        return await self.comm.receive_output(1)

    async def next(self, timeout: float = 3.0) -> dict:
        """The next frame, skipping heartbeat pings; {"closed": code} when the server closed."""
        while True:
            out = await self._output(timeout)
            if out["type"] == "websocket.close":
                return {"closed": out.get("code")}
            frame = json.loads(out["text"])
            if frame["type"] != "ping":
                return frame

    async def until(self, type_: str, timeout: float = 3.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.next(max(0.05, deadline - loop.time()))
            if frame.get("type") == type_:
                return frame

    async def frames(self, wait: float = 0.5) -> list[dict]:
        """Every frame that arrives within `wait` seconds of quiet."""
        got = []
        while True:
            try:
                got.append(await self.next(wait))
            except TimeoutError:
                return got

    async def close(self) -> None:
        if not self.comm.future.done():
            await self.comm.disconnect()
