"""The ceiling for fan-out: a bare `websockets` server that relays every text frame it gets
to every other connected client (no Django, no channel layer). Usage: bare_broadcaster.py PORT
"""

import asyncio
import sys

import websockets

clients: set = set()


async def handler(ws) -> None:
    clients.add(ws)
    try:
        async for message in ws:
            websockets.broadcast(clients - {ws}, message)
    finally:
        clients.discard(ws)


async def main(port: int) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
