"""dev.voice: what the local stack runs for calls (the bridge, and the fake OpenAI unless a real
Realtime URL is configured), in a background thread, started and stopped from sync code."""

from __future__ import annotations

import httpx

from dev.stack import Stack
from dev.voice import serve_voice_in_thread


def test_the_bridge_and_the_fake_run_beside_the_stack(stack: Stack):
    env = {
        **stack.env(),
        "BRIDGE_TOKEN_SECRET": "local-secret",
        "OPENAI_REALTIME_URL": "ws://127.0.0.1:8081/v1/realtime",
    }
    with serve_voice_in_thread(env, bridge_port=0, openai_port=0) as voice:
        assert voice.fake and voice.openai_url.endswith("/v1/realtime")
        assert ":8081/" not in voice.openai_url  # port 0 picked a free one
        base = voice.bridge_url.replace("ws://", "http://")
        health = httpx.get(base.rsplit("/", 1)[0] + "/health", timeout=5)
        # BRIDGE_URL for the api carries the path secret; without it there is no stream
        assert base.rsplit("/", 1)[1] == stack.config.bridge_path_secret
        no_secret = httpx.get(base.rsplit("/", 1)[0] + "/media", timeout=5)
        media = httpx.get(base + "/media", timeout=5)  # an HTTP GET, not an upgrade
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert no_secret.status_code == 404
    assert media.status_code == 426  # the right path: only the upgrade is missing


def test_a_real_realtime_url_starts_no_fake(stack: Stack):
    env = {
        **stack.env(),
        "BRIDGE_TOKEN_SECRET": "local-secret",
        "OPENAI_API_KEY": "sk-not-used-here",
        "OPENAI_REALTIME_URL": "wss://api.openai.com/v1/realtime",
    }
    with serve_voice_in_thread(env, bridge_port=0) as voice:
        assert not voice.fake
        assert voice.openai_url == "wss://api.openai.com/v1/realtime"
