"""Placing outbound calls through the provider's REST API (Twilio, or SignalWire's LaML
compatibility API, which speaks the same protocol under another base URL):

    POST {base}/Accounts/{account}/Calls.json    HTTP Basic account:token, form fields
         To, From, Url (our voice webhook), Method, StatusCallback, StatusCallbackEvent...
      -> 201 {"sid": "CA...", "status": "queued", ...}

    SignalWire  base = https://{SIGNALWIRE_SPACE_URL}/api/laml/2010-04-01,
                account = SIGNALWIRE_PROJECT_ID, token = SIGNALWIRE_API_TOKEN
    Twilio      base = {TWILIO_API_URL}/2010-04-01, account = TWILIO_ACCOUNT_SID,
                token = TWILIO_AUTH_TOKEN

`TelephonyApi` takes an `httpx.AsyncClient`, so tests hand it an `httpx.MockTransport`
speaking the provider's wire format. Failures are mapped once, here: the provider refusing the
request (4xx: a bad number, a number we may not call from) is `BadRequest` with its message;
unreachable, timeouts and 5xx are `ServiceUnavailable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from lib.config import Settings
from lib.errors import BadRequest, ServiceUnavailable

STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
RETRY_AFTER_S = 5


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str


class TelephonyApi:
    def __init__(
        self,
        *,
        base_url: str,
        account: str,
        token: str,
        http: httpx.AsyncClient,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account = account
        self._token = token
        self._http = http
        self._timeout_s = timeout_s

    @classmethod
    def from_settings(cls, config: Settings, *, http: httpx.AsyncClient) -> TelephonyApi:
        """The configured provider's API; ServiceUnavailable if it is not configured."""
        if config.voice_provider == "signalwire":
            space = config.signalwire_space_url
            account, token = config.signalwire_project_id, config.signalwire_api_token.get()
            base = "" if not space else _with_scheme(space) + "/api/laml/2010-04-01"
        else:
            account, token = config.twilio_account_sid, config.twilio_auth_token.get()
            base = config.twilio_api_url + "/2010-04-01"
        if not (base and account and token):
            raise ServiceUnavailable(
                f"outbound calls need {config.voice_provider} credentials "
                "(SIGNALWIRE_SPACE_URL/PROJECT_ID/API_TOKEN or TWILIO_ACCOUNT_SID/AUTH_TOKEN)"
            )
        return cls(base_url=base, account=account, token=token, http=http)

    async def place_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        status_events: Sequence[str] = STATUS_EVENTS,
    ) -> PlacedCall:
        """Ask the provider to dial `to`; it fetches TwiML from `url` once answered."""
        form = [
            ("To", to),
            ("From", from_),
            ("Url", url),
            ("Method", "POST"),
            ("StatusCallback", status_callback),
            ("StatusCallbackMethod", "POST"),
            *(("StatusCallbackEvent", event) for event in status_events),
        ]
        endpoint = f"{self.base_url}/Accounts/{self.account}/Calls.json"
        try:
            response = await self._http.post(
                endpoint,
                data=_merge(form),
                auth=(self.account, self._token),
                timeout=self._timeout_s,
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"the telephony provider is unreachable: {type(exc).__name__}",
                retry_after=RETRY_AFTER_S,
            ) from exc
        body = _json(response)
        if response.status_code >= 500:
            raise ServiceUnavailable(
                f"the telephony provider failed ({response.status_code})",
                retry_after=RETRY_AFTER_S,
            )
        if response.status_code >= 400:
            message = str(body.get("message") or response.reason_phrase)
            raise BadRequest(f"the telephony provider refused the call: {message}"[:500])
        sid, status = body.get("sid"), body.get("status")
        if not isinstance(sid, str) or not sid:
            raise ServiceUnavailable("the telephony provider answered without a call sid")
        return PlacedCall(sid=sid, status=status if isinstance(status, str) else "queued")


def _with_scheme(space: str) -> str:
    return space if "://" in space else f"https://{space}"


def _merge(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Form fields with repeated names as lists (httpx encodes a list as repeated fields)."""
    merged: dict[str, str | list[str]] = {}
    for name, value in pairs:
        current = merged.get(name)
        if current is None:
            merged[name] = value
        elif isinstance(current, list):
            current.append(value)
        else:
            merged[name] = [current, value]
    return merged


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
