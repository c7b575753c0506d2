"""Caller audio gathered into fewer, larger `input_audio_buffer.append`s. Pure state, no I/O.

The provider sends a frame every 20 ms; forwarding each as it comes costs a message (and, on
a busy machine, a system call) per frame. With BRIDGE_APPEND_MS=60 three frames go up as one
append: a third of the upstream messages. The price is latency: the first frame of each
append waits for the last (up to append_ms - 20 ms), and OpenAI's VAD hears speech, and so
starts a barge-in, that much later. Audio is joined as bytes (base64 strings cannot be joined:
each frame's ends in padding), in order, nothing dropped or repeated; what is still gathered
when a call ends (less than append_ms) is not sent.
"""

from __future__ import annotations

import base64

from worker.telephony import AudioFormat

TOLERANCE_MS = 0.5
"""Frames are not always exactly 20 ms of bytes (e.g. L16 at odd sizes): 59.9 ms is 60."""


class Appends:
    def __init__(self, audio: AudioFormat, every_ms: float) -> None:
        self._audio = audio
        self._every = every_ms - TOLERANCE_MS
        self._parts: list[str] = []
        self._ms = 0.0

    def add(self, payload: str) -> str | None:
        """One frame's audio (as OpenAI takes it); returns an append's audio when one is due."""
        duration = self._audio.duration_ms(payload)
        if not self._parts and duration >= self._every:
            return payload  # nothing gathered and this is enough: as is (the default, 20 ms)
        self._parts.append(payload)
        self._ms += duration
        return self.flush() if self._ms >= self._every else None

    def flush(self) -> str | None:
        """Everything gathered, as one base64 string (None if nothing is)."""
        parts, self._parts, self._ms = self._parts, [], 0.0
        if len(parts) <= 1:
            return parts[0] if parts else None
        joined = b"".join(base64.b64decode(part) for part in parts)
        return base64.b64encode(joined).decode("ascii")
