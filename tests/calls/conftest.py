"""Fixtures for calls: a fake OpenAI and a bridge per test (loopback, free ports), wired to the
session's stack, and the voice webhooks configured to stream to that bridge."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dev.fake_openai import Behaviour
from dev.stack import Stack
from tests.calls.harness import VoiceWorld, voice_world

FAST = Behaviour(ms_per_word=60, speed=8.0)
"""Short replies, generated 8x faster than real time: calls stay short."""


@pytest.fixture
async def voice(stack: Stack) -> AsyncIterator[VoiceWorld]:
    async with voice_world(stack, FAST) as world:
        yield world
