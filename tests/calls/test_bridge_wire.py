"""The bridge's own frame reading and message interception (worker/wire.py) on a real
websockets server and client over loopback: whatever the bytes' split into TCP reads, every
message arrives once, in order, through the interceptor or the queue, and control frames,
fragmented messages and protocol errors are still websockets' own business."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from worker import wire


class Echoing:
    """A server whose handler intercepts text starting with "hot" and answers everything it
    sees (intercepted or from the queue) with a JSON line saying which way it came."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.closed: tuple[int | None, str] | None = None

    async def handler(self, connection: ServerConnection) -> None:
        assert isinstance(connection, wire.CoalescingConnection)

        def now(text: str) -> bool:
            if not text.startswith("hot"):
                return False
            self.seen.append(("intercepted", text))
            wire.send_now(connection, (json.dumps(["intercepted", text]),))
            return True

        connection.intercept = now
        try:
            async for message in connection:
                text = message if isinstance(message, str) else f"binary:{message.hex()}"
                self.seen.append(("queued", text))
                await connection.send(json.dumps(["queued", text]))
                if text == "slow":
                    await asyncio.sleep(0.2)  # messages arriving meanwhile wait their turn
        except ConnectionClosed as exc:
            self.closed = (exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "")

    @contextlib.asynccontextmanager
    async def running(self, max_size: int = 2**17) -> AsyncIterator[str]:
        async with serve(
            self.handler,
            "127.0.0.1",
            0,
            create_connection=wire.CoalescingConnection,
            compression=None,
            max_size=max_size,
        ) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            yield f"ws://127.0.0.1:{port}"


async def replies(client, count: int) -> list[list[str]]:
    return [json.loads(await asyncio.wait_for(client.recv(), 5)) for _ in range(count)]


async def test_messages_arrive_once_and_in_order_however_the_bytes_are_split():
    echo = Echoing()
    async with echo.running() as url, connect(url, compression=None) as client:
        texts = ["hot 1", "cold 2", "hot 3 " + "x" * 300, "hot 4 " + "y" * 70_000]
        frames = b"".join(wire.text_frame(t.encode(), masked=True) for t in texts)
        # the whole batch in one write, then byte by byte: frames split anywhere
        client.transport.write(frames)
        for byte in range(len(frames)):
            client.transport.write(frames[byte : byte + 1])
        got = await replies(client, 2 * len(texts))
    assert [text for _, text in got] == texts * 2
    # in the batch read at once, the first is taken on arrival; once one waits in the queue,
    # the ones behind it wait too (they may not overtake it)
    assert [way for way, _ in got[:4]] == ["intercepted", "queued", "queued", "queued"]


async def test_nothing_overtakes_a_message_still_being_handled():
    echo = Echoing()
    async with echo.running() as url, connect(url, compression=None) as client:
        await client.send("slow")
        await asyncio.sleep(0.05)  # the handler is busy with "slow" for 0.2 s
        await client.send("hot while busy")  # must wait in the queue, not jump ahead
        got = await replies(client, 2)
    assert got == [["queued", "slow"], ["queued", "hot while busy"]]


async def test_pings_fragments_and_binary_frames_still_go_through_websockets():
    echo = Echoing()
    async with echo.running() as url, connect(url, compression=None) as client:
        await client.send("hot first")  # the fast reader is engaged from here on
        assert await replies(client, 1) == [["intercepted", "hot first"]]
        pong = await client.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        await client.send(["hot ", "in ", "fragments"])  # one message in three frames
        await client.send(b"\x01\x02")
        await client.send("hot last")
        got = await replies(client, 3)
    assert got[:2] == [
        ["queued", "hot in fragments"],  # fragments are reassembled by websockets' queue
        ["queued", "binary:0102"],
    ]
    assert got[2][1] == "hot last"  # taken on arrival or queued, depending on timing


async def test_a_frame_over_max_size_and_a_protocol_error_close_as_websockets_would():
    echo = Echoing()
    async with echo.running(max_size=1000) as url:
        async with connect(url, compression=None, max_size=None) as client:
            await client.send("hot ok")
            await replies(client, 1)
            await client.send("hot " + "z" * 2000)
            await asyncio.wait_for(client.wait_closed(), 5)
        assert client.close_code == 1009  # message too big
        async with connect(url, compression=None) as client:
            await client.send("hot ok")
            await replies(client, 1)
            client.transport.write(b"\x83\x80\x00\x00\x00\x00")  # a reserved opcode
            await asyncio.wait_for(client.wait_closed(), 5)
        assert client.close_code == 1002  # protocol error
    assert [text for _, text in echo.seen] == ["hot ok", "hot ok"]
