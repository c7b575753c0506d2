"""Email through SendGrid's v3 Mail Send API:

    POST {SENDGRID_API_URL}/v3/mail/send   Authorization: Bearer {SENDGRID_API_KEY}
         {"personalizations": [{"to": [{"email"}]}], "from": {"email", "name"}, "subject",
          "content": [{"type": "text/plain", "value"}], "custom_args": {"notification"}}
      -> 202, empty body, X-Message-Id header
      -> 4xx {"errors": [{"message", "field", "help"}]}

The client is injected; tests use an httpx.MockTransport that answers like SendGrid.
"""

from __future__ import annotations

import httpx

from lib.config import Settings
from lib.errors import ServiceUnavailable
from lib.notify.port import Notification, Receipt, status_error, transport_error

PROVIDER = "SendGrid"


class SendGridEmail:
    def __init__(
        self,
        *,
        api_key: str,
        from_email: str,
        http: httpx.AsyncClient,
        from_name: str = "",
        api_url: str = "https://api.sendgrid.com",
        timeout_s: float = 10.0,
    ) -> None:
        self._api_key = api_key
        self.from_email = from_email
        self.from_name = from_name
        self._http = http
        self.endpoint = f"{api_url.rstrip('/')}/v3/mail/send"
        self._timeout_s = timeout_s

    @classmethod
    def from_settings(cls, config: Settings, *, http: httpx.AsyncClient) -> SendGridEmail:
        key = config.sendgrid_api_key.get()
        if not (key and config.notify_from_email):
            raise ServiceUnavailable(
                "NOTIFY_EMAIL_PROVIDER=sendgrid needs SENDGRID_API_KEY and NOTIFY_FROM_EMAIL"
            )
        return cls(
            api_key=key,
            from_email=config.notify_from_email,
            from_name=config.notify_from_name,
            http=http,
            api_url=config.sendgrid_api_url,
        )

    async def send(self, notification: Notification) -> Receipt:
        sender = {"email": self.from_email, **({"name": self.from_name} if self.from_name else {})}
        payload = {
            "personalizations": [{"to": [{"email": notification.to}]}],
            "from": sender,
            "subject": notification.subject,
            "content": [{"type": "text/plain", "value": notification.text}],
            "custom_args": {"notification": notification.key},
        }
        try:
            response = await self._http.post(
                self.endpoint,
                json=payload,
                headers={"Authorization": f"Bearer {self._api_key}"},
                timeout=self._timeout_s,
            )
        except httpx.HTTPError as exc:
            raise transport_error(PROVIDER, exc) from exc
        if response.status_code >= 400:
            raise status_error(PROVIDER, response.status_code, _errors(response))
        return Receipt(provider_id=response.headers.get("x-message-id", ""))


def _errors(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        return "; ".join(
            str(error.get("message")) for error in errors[:3] if isinstance(error, dict)
        )
    return response.reason_phrase
