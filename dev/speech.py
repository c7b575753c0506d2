"""Test audio for the voice bridge's stand-ins: μ-law / 16-bit PCM codecs, tones, silence,
a level meter, and spoken phrases.

`speech("hello")` synthesises the phrase with `espeak-ng` and converts it with `sox` when both
are installed (`apt-get install espeak-ng sox`), else falls back to a generated, speech-like
burst (a seeded mix of tones and noise, loud enough for any energy VAD). Either way the
result is raw audio in the requested encoding: `pcmu` (μ-law 8 kHz) or `pcm24k` (16-bit
little-endian, 24 kHz: what OpenAI's audio/pcm is; `swap16` gives the big-endian L16 a
provider's stream carries). Pure Python (audioop is gone in Python 3.13).
"""

from __future__ import annotations

import hashlib
import math
import random
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Encoding = Literal["pcmu", "pcm24k"]
RATES: dict[Encoding, int] = {"pcmu": 8000, "pcm24k": 24000}
BYTES_PER_MS: dict[Encoding, int] = {"pcmu": 8, "pcm24k": 48}
ULAW_SILENCE = 0xFF
_BIAS = 0x84
CACHE = Path(tempfile.gettempdir()) / "sockless-speech"
SYNTH_TIMEOUT_S = 20


def ulaw_to_linear(byte: int) -> int:
    value = ~byte & 0xFF
    sign, exponent, mantissa = value & 0x80, (value >> 4) & 0x07, value & 0x0F
    sample = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -sample if sign else sample


ULAW_DECODE = tuple(ulaw_to_linear(byte) for byte in range(256))
ULAW_LEVEL = tuple(abs(sample) for sample in ULAW_DECODE)


_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def linear_to_ulaw(sample: int) -> int:
    """G.711 μ-law of a 16-bit sample, bit-exact with the old audioop.lin2ulaw."""
    value = sample >> 2
    mask = 0x7F if value < 0 else 0xFF
    value = min(abs(value), 8159) + 0x21
    segment = next((n for n, end in enumerate(_SEGMENT_ENDS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def encode(samples: list[int], encoding: Encoding) -> bytes:
    if encoding == "pcmu":
        return bytes(linear_to_ulaw(sample) for sample in samples)
    return struct.pack(f"<{len(samples)}h", *samples)


def swap16(audio: bytes) -> bytes:
    """16-bit samples with their two bytes swapped: little-endian PCM <-> big-endian L16."""
    swapped = bytearray(audio)
    swapped[0 : len(audio) & ~1 : 2] = audio[1 : len(audio) & ~1 : 2]
    swapped[1 : len(audio) & ~1 : 2] = audio[0 : len(audio) & ~1 : 2]
    return bytes(swapped)


def mean_level(audio: bytes, encoding: Encoding) -> float:
    """Mean absolute sample value (0 for silence; ~2,000+ for speech at a normal level)."""
    if not audio:
        return 0.0
    if encoding == "pcmu":
        return float(sum(map(ULAW_LEVEL.__getitem__, audio))) / len(audio)
    count = len(audio) // 2
    samples: tuple[int, ...] = struct.unpack(f"<{count}h", audio[: count * 2])
    return sum(abs(sample) for sample in samples) / max(1, count)


def silence(ms: int, encoding: Encoding = "pcmu") -> bytes:
    size = ms * BYTES_PER_MS[encoding]
    return bytes([ULAW_SILENCE]) * size if encoding == "pcmu" else bytes(size)


def tone(
    ms: int, *, frequency: float = 440.0, amplitude: int = 6000, encoding: Encoding = "pcmu"
) -> bytes:
    rate = RATES[encoding]
    count = rate * ms // 1000
    step = 2 * math.pi * frequency / rate
    return encode([int(amplitude * math.sin(step * n)) for n in range(count)], encoding)


def babble(ms: int, *, seed: int = 7, encoding: Encoding = "pcmu") -> bytes:
    """A speech-like burst: syllables of mixed tones and noise, 40 ms dips between them
    (shorter than any VAD's silence window, so it reads as one utterance)."""
    rng = random.Random(seed)  # noqa: S311 - test audio, not secrets
    rate = RATES[encoding]
    samples: list[int] = []
    while len(samples) * 1000 // rate < ms:
        syllable = rate * rng.randint(120, 260) // 1000
        pitch = rng.uniform(110, 240)
        for n in range(syllable):
            envelope = math.sin(math.pi * n / syllable)
            voiced = math.sin(2 * math.pi * pitch * n / rate) + 0.5 * math.sin(
                4 * math.pi * pitch * n / rate
            )
            samples.append(int(envelope * (7000 * voiced + rng.uniform(-1500, 1500))))
        samples.extend([0] * (rate * 40 // 1000))
    return encode(samples[: rate * ms // 1000], encoding)


@dataclass(frozen=True)
class Speech:
    audio: bytes
    encoding: Encoding
    source: Literal["espeak-ng", "generated"]

    @property
    def duration_ms(self) -> int:
        return len(self.audio) // BYTES_PER_MS[self.encoding]


def can_synthesise() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def _synthesise(text: str, encoding: Encoding, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), text],
            check=True,
            capture_output=True,
            timeout=SYNTH_TIMEOUT_S,
        )
        if encoding == "pcmu":
            fmt = ["-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw"]
        else:
            fmt = ["-r", "24000", "-c", "1", "-e", "signed", "-b", "16", "-L", "-t", "raw"]
        subprocess.run(
            ["sox", str(wav), *fmt, str(target)],
            check=True,
            capture_output=True,
            timeout=SYNTH_TIMEOUT_S,
        )


def speech(text: str, *, encoding: Encoding = "pcmu", cache: Path = CACHE) -> Speech:
    """`text` spoken (espeak-ng + sox) or, without them, a babble about as long as reading it."""
    if can_synthesise():
        key = hashlib.sha256(f"{encoding}:{text}".encode()).hexdigest()[:24]
        target = cache / f"{key}.raw"
        if not target.exists():
            cache.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            _synthesise(text, encoding, partial)
            partial.replace(target)
        return Speech(target.read_bytes(), encoding, "espeak-ng")
    words = max(1, len(text.split()))
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    return Speech(babble(300 * words + 200, seed=seed, encoding=encoding), encoding, "generated")
