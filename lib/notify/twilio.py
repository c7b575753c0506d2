"""SMS through Twilio's Messages API:

    POST {TWILIO_API_URL}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json
         HTTP Basic sid:token, form To, Body, and From (a number) or MessagingServiceSid (MG...)
      -> 201 {"sid": "SM...", "status": "queued", ...}
      -> 4xx {"code": 21211, "message": "The 'To' number ... is not a valid phone number.", ...}

The client is injected; tests use an httpx.MockTransport that answers like Twilio.
"""

from __future__ import annotations

import httpx

from lib.config import Settings
from lib.errors import ServiceUnavailable
from lib.notify.port import Notification, NotifyError, Receipt, status_error, transport_error

MAX_SMS_CHARS = 1600
"""Twilio refuses longer bodies (error 21617)."""
PROVIDER = "Twilio"


class TwilioSms:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        http: httpx.AsyncClient,
        api_url: str = "https://api.twilio.com",
        timeout_s: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.sender = sender
        self._http = http
        self.endpoint = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._timeout_s = timeout_s

    @classmethod
    def from_settings(cls, config: Settings, *, http: httpx.AsyncClient) -> TwilioSms:
        token = config.twilio_auth_token.get()
        if not (config.twilio_account_sid and token and config.notify_from_number):
            raise ServiceUnavailable(
                "NOTIFY_SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                "NOTIFY_FROM_NUMBER (a number or a Messaging Service SID)"
            )
        return cls(
            account_sid=config.twilio_account_sid,
            auth_token=token,
            sender=config.notify_from_number,
            http=http,
            api_url=config.twilio_api_url,
        )

    async def send(self, notification: Notification) -> Receipt:
        sender_field = "MessagingServiceSid" if self.sender.startswith("MG") else "From"
        form = {
            "To": notification.to,
            sender_field: self.sender,
            "Body": notification.text[:MAX_SMS_CHARS],
        }
        try:
            response = await self._http.post(
                self.endpoint,
                data=form,
                auth=(self.account_sid, self._auth_token),
                timeout=self._timeout_s,
            )
        except httpx.HTTPError as exc:
            raise transport_error(PROVIDER, exc) from exc
        body = _json(response)
        if response.status_code >= 400:
            detail = str(body.get("message") or response.reason_phrase)
            code = body.get("code")
            raise status_error(PROVIDER, response.status_code, f"{detail} (code {code})")
        sid = body.get("sid")
        if not isinstance(sid, str) or not sid:
            raise NotifyError(f"{PROVIDER} accepted the message without a sid", retry=False)
        return Receipt(provider_id=sid)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
