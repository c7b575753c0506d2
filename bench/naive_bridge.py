"""The naive peer for bench.bridge: a bridge written the way the reference sample documents it
(twilio-samples/speech-assistant-openai-realtime-api-python, as described in
shared/docs/reference/voice-bridge.md section 3), so every figure of ours has a ratio.

FastAPI served by plain uvicorn (asyncio loop, h11, the `websockets` WebSocket protocol: the
sample installs neither uvloop nor httptools), one OpenAI socket per call opened with
`websockets.connect`, two coroutines under `asyncio.gather`:
- caller -> OpenAI: every text message is `json.loads`-ed; a `media` frame records its
  timestamp and goes upstream as its own `input_audio_buffer.append` (`json.dumps`);
- OpenAI -> caller: every event is `json.loads`-ed; an audio delta is base64-decoded and
  re-encoded, sent as one `media` message (`send_json`), then a `mark` named "responsePart"
  (queued; each echo pops one); `speech_started` with marks pending truncates the last item
  at the caller's latest media timestamp and sends `clear`.
No token, no database, no transcripts or tools: only the audio path, as in the sample.
Written for this benchmark from that description; none of the sample's code is here.

    python -m bench.naive_bridge --openai ws://127.0.0.1:PORT/v1/realtime
    -> prints `naive: listening on 127.0.0.1:<port>` (media path /media-stream)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

app = FastAPI()
OPENAI_URL = ""


def _session_update() -> dict[str, Any]:
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "model": "gpt-realtime",
            "output_modalities": ["audio"],
            "instructions": "You are a helpful assistant.",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "turn_detection": {"type": "server_vad"},
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"},
            },
        },
    }


@app.websocket("/media-stream")
async def media_stream(websocket: WebSocket) -> None:
    await websocket.accept()
    async with websockets.connect(
        OPENAI_URL, additional_headers={"Authorization": "Bearer naive"}, proxy=None
    ) as openai_ws:
        await openai_ws.send(json.dumps(_session_update()))
        state: dict[str, Any] = {
            "stream_sid": None,
            "latest_media_timestamp": 0,
            "last_assistant_item": None,
            "mark_queue": [],
            "response_start": None,
        }

        async def receive_from_caller() -> None:
            try:
                async for message in websocket.iter_text():
                    data = json.loads(message)
                    if data["event"] == "media":
                        state["latest_media_timestamp"] = int(data["media"]["timestamp"])
                        append = {
                            "type": "input_audio_buffer.append",
                            "audio": data["media"]["payload"],
                        }
                        await openai_ws.send(json.dumps(append))
                    elif data["event"] == "start":
                        state["stream_sid"] = data["start"]["streamSid"]
                        state["response_start"] = None
                        state["latest_media_timestamp"] = 0
                        state["last_assistant_item"] = None
                    elif data["event"] == "mark" and state["mark_queue"]:
                        state["mark_queue"].pop(0)
            except WebSocketDisconnect:
                pass
            await openai_ws.close()

        async def send_to_caller() -> None:
            try:
                async for openai_message in openai_ws:
                    response = json.loads(openai_message)
                    kind = response.get("type")
                    if kind == "response.output_audio.delta" and "delta" in response:
                        payload = base64.b64encode(base64.b64decode(response["delta"])).decode()
                        await websocket.send_json(
                            {
                                "event": "media",
                                "streamSid": state["stream_sid"],
                                "media": {"payload": payload},
                            }
                        )
                        if state["response_start"] is None:
                            state["response_start"] = state["latest_media_timestamp"]
                        if response.get("item_id"):
                            state["last_assistant_item"] = response["item_id"]
                        await websocket.send_json(
                            {
                                "event": "mark",
                                "streamSid": state["stream_sid"],
                                "mark": {"name": "responsePart"},
                            }
                        )
                        state["mark_queue"].append("responsePart")
                    elif kind == "input_audio_buffer.speech_started":
                        await speech_started()
            except (websockets.ConnectionClosed, RuntimeError):
                pass

        async def speech_started() -> None:
            if state["mark_queue"] and state["response_start"] is not None:
                elapsed = state["latest_media_timestamp"] - state["response_start"]
                if state["last_assistant_item"]:
                    truncate = {
                        "type": "conversation.item.truncate",
                        "item_id": state["last_assistant_item"],
                        "content_index": 0,
                        "audio_end_ms": elapsed,
                    }
                    await openai_ws.send(json.dumps(truncate))
                await websocket.send_json({"event": "clear", "streamSid": state["stream_sid"]})
                state["mark_queue"].clear()
                state["last_assistant_item"] = None
                state["response_start"] = None

        await asyncio.gather(receive_from_caller(), send_to_caller())


def serve() -> None:
    global OPENAI_URL
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--openai", required=True, help="the OpenAI stand-in's WebSocket URL")
    args = parser.parse_args()
    OPENAI_URL = args.openai
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)  # connections queue until uvicorn accepts them
    print(f"naive: listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        app, loop="asyncio", http="h11", ws="websockets", log_level="warning", access_log=False
    )
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    serve()
