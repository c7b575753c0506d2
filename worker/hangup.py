"""Hanging a call up through the provider's REST API (Twilio, or SignalWire's LaML API):

    POST {base}/Accounts/{account}/Calls/{CallSid}.json   Status=completed   (HTTP Basic)

The bridge hangs up this way when it ends a call itself (end_call, time limit, shutdown), so
the provider does not go on to the spoken fallback after `</Connect>`. Without credentials it
simply closes the stream (the local stack: the simulator takes the close as the hang-up).
"""

from __future__ import annotations

import logging

import httpx

from worker.config import BridgeConfig

log = logging.getLogger("worker.hangup")

TIMEOUT_S = 5.0


def api_base(config: BridgeConfig) -> tuple[str, str, str] | None:
    """(base URL, account, token) of the configured provider, or None if not configured."""
    if config.voice_provider == "signalwire":
        space, account = config.signalwire_space_url, config.signalwire_project_id
        token = config.signalwire_api_token.get()
        if not (space and account and token):
            return None
        scheme = "" if "://" in space else "https://"
        return f"{scheme}{space}/api/laml/2010-04-01", account, token
    account, token = config.twilio_account_sid, config.twilio_auth_token.get()
    if not (account and token):
        return None
    return f"{config.twilio_api_url}/2010-04-01", account, token


async def hang_up(config: BridgeConfig, http: httpx.AsyncClient, call_sid: str) -> bool:
    """Complete the call; False (logged) if it could not be done, so the caller closes the
    stream instead."""
    target = api_base(config)
    if target is None or not call_sid:
        return False
    base, account, token = target
    try:
        response = await http.post(
            f"{base}/Accounts/{account}/Calls/{call_sid}.json",
            data={"Status": "completed"},
            auth=(account, token),
            timeout=TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        log.warning("hang-up of %s failed: %r", call_sid, exc)
        return False
    if response.status_code >= 400:
        log.warning("hang-up of %s refused: %s %s", call_sid, response.status_code, response.text)
        return False
    return True
