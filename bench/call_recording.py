"""What recording a call costs the bridge: per media frame on the audio path, and once at the
end (assembling the WAV, off the event loop), for a 10-minute μ-law call.

    python -m bench.call_recording [--repeat 5] [--no-write]

- per frame: `Recorder.heard(payload)` (the one call on the inbound path) beside a frame that
  is not recorded (CALL_RECORDINGS=off: a no-op call) and beside decoding each frame as it
  arrives (the obvious alternative: base64 -> bytes into a buffer), timed over 30,000 frames
  (10 minutes of 20 ms frames);
- at the end: `assemble()` of that call (the caller all along, the assistant speaking 40 % of
  the time in 100 ms chunks, a barge-in every minute), and the WAV's size.
"""

from __future__ import annotations

import argparse
import base64
import time

from bench.docs_section import DATE, LOAD, MACHINE, median, note_load, replace_section
from worker.recording import Recorder
from worker.telephony import PCMU

FRAMES = 30_000
FRAME = base64.b64encode(bytes(range(160))).decode()
CHUNK = base64.b64encode(bytes(range(256)) * 3 + bytes(32)).decode()  # 100 ms at 8 kHz


def per_frame_ns(recorder: Recorder) -> float:
    heard = recorder.heard
    started = time.perf_counter_ns()
    for _ in range(FRAMES):
        heard(FRAME)
    return (time.perf_counter_ns() - started) / FRAMES


def decoding_per_frame_ns() -> float:
    buffer = bytearray()
    started = time.perf_counter_ns()
    for _ in range(FRAMES):
        buffer += base64.b64decode(FRAME)
    return (time.perf_counter_ns() - started) / FRAMES


def ten_minute_call() -> Recorder:
    recorder = Recorder(PCMU)
    for frame in range(FRAMES):
        recorder.heard(FRAME)
        if frame % 50 < 20 and frame % 5 == 0:  # 40 % of each second: assistant chunks
            recorder.said(CHUNK)
        if frame % 3000 == 2999:
            recorder.cleared()
    return recorder


def run(repeat: int) -> dict[str, float]:
    on, off, decode, assemble, size = [], [], [], [], 0
    for _ in range(repeat):
        on.append(per_frame_ns(Recorder(PCMU)))
        off.append(per_frame_ns(Recorder(PCMU, enabled=False)))
        decode.append(decoding_per_frame_ns())
        call = ten_minute_call()
        started = time.perf_counter()
        recording = call.assemble()
        assemble.append((time.perf_counter() - started) * 1000)
        size = len(recording.wav)
    return {
        "on": median(on),
        "off": median(off),
        "decode": median(decode),
        "assemble": median(assemble),
        "size_mb": size / 2**20,
    }


def section(figures: dict[str, float], repeat: int) -> str:
    return "\n".join(
        [
            "## Call recordings: cost on the bridge (10-minute μ-law call)",
            "",
            f"machine: `{MACHINE}`, date {DATE}, median of {repeat} runs, same run, 1-minute "
            f"load average at start {LOAD[0]:.2f} (the machine is shared)",
            "",
            "| what | cost |",
            "|---|---|",
            f"| per inbound frame, recording on (`heard`: a list append) | "
            f"{figures['on']:.0f} ns |",
            f"| per inbound frame, recording off (a no-op call) | {figures['off']:.0f} ns |",
            f"| per inbound frame, decoding into a buffer as it arrives (not done) | "
            f"{figures['decode']:.0f} ns |",
            f"| assembling the WAV at call end (worker thread) | {figures['assemble']:.0f} ms |",
            f"| WAV size (stereo 16-bit PCM, 8 kHz) | {figures['size_mb']:.1f} MiB |",
            "",
            "`python -m bench.call_recording`: 30,000 frames of 20 ms (10 minutes); the "
            "assistant speaks 40 % of the time in 100 ms chunks, with a barge-in every minute. "
            "The upload itself (boto3, a worker thread, at the save) is not on the audio path.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    note_load()
    text = section(run(args.repeat), args.repeat)
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('call-recording', text)}")


if __name__ == "__main__":
    main()
