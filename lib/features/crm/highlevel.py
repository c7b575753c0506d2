"""HighLevel's REST API (LeadConnector), the parts the CRM calls:

    POST {GHL_API_URL}/oauth/token            form: client_id, client_secret, grant_type
         (authorization_code + code | refresh_token + refresh_token), user_type=Location
      -> {access_token, token_type, expires_in, refresh_token, scope, userType, locationId,
          companyId, userId}
    POST {GHL_API_URL}/conversations/messages  Bearer <location access token>,
         Version: 2021-04-15, JSON {type, contactId, conversationId, message, subject?,
         userId?}
      -> {conversationId, messageId, msg}

`HighLevelApi` takes an `httpx.AsyncClient` (tests: the local stand-in, dev/ghl_api.py; or an
`httpx.MockTransport`). Failures are mapped once, here: unreachable, timeouts and 5xx are
`ServiceUnavailable`; 401 on a message is `TokenRejected` (refresh and try once more); other
refusals are `HighLevelRefused` with HighLevel's message. No token ever appears in an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from lib.config import Secret
from lib.errors import BadRequest, ServiceUnavailable

API_VERSION = "2021-04-15"
RETRY_AFTER_S = 5


class HighLevelRefused(BadRequest):
    """HighLevel refused the request (4xx); the message is HighLevel's."""


class TokenRejected(HighLevelRefused):
    """HighLevel refused the access token (401): refresh it."""


@dataclass(frozen=True)
class Grant:
    """What /oauth/token answers. The tokens are Secrets: they never print."""

    access_token: Secret
    refresh_token: Secret
    expires_in: int
    location_id: str | None
    company_id: str | None
    user_id: str | None
    scope: str | None
    user_type: str | None


@dataclass(frozen=True)
class Sent:
    conversation_id: str
    message_id: str


class HighLevelApi:
    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: Secret,
        http: httpx.AsyncClient,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._timeout_s = timeout_s

    async def exchange_code(self, code: str) -> Grant:
        return await self._grant({"grant_type": "authorization_code", "code": code})

    async def refresh(self, refresh_token: Secret) -> Grant:
        return await self._grant(
            {"grant_type": "refresh_token", "refresh_token": refresh_token.get()}
        )

    async def send_message(
        self,
        access_token: Secret,
        *,
        type: str,
        contact_id: str,
        conversation_id: str,
        body: str,
        subject: str | None = None,
        user_id: str | None = None,
    ) -> Sent:
        payload: dict[str, Any] = {
            "type": type,
            "contactId": contact_id,
            "conversationId": conversation_id,
            "message": body,
        }
        if type == "Email":
            payload["html"] = body
            payload["subject"] = subject or ""
        if user_id:
            payload["userId"] = user_id
        response = await self._call(
            "POST",
            "/conversations/messages",
            json=payload,
            headers={"authorization": f"Bearer {access_token.get()}", "version": API_VERSION},
        )
        answer = _json(response)
        if response.status_code == 401:
            raise TokenRejected("HighLevel refused the location's access token")
        _refusal(response, answer, "the message")
        message_id, conversation = answer.get("messageId"), answer.get("conversationId")
        if not isinstance(message_id, str) or not message_id:
            raise ServiceUnavailable("HighLevel answered without a messageId")
        return Sent(
            conversation_id=conversation if isinstance(conversation, str) else conversation_id,
            message_id=message_id,
        )

    async def _grant(self, fields: dict[str, str]) -> Grant:
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret.get(),
            "user_type": "Location",
            **fields,
        }
        response = await self._call("POST", "/oauth/token", data=form)
        answer = _json(response)
        _refusal(response, answer, "the OAuth grant")
        access, refresh = answer.get("access_token"), answer.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access:
            raise ServiceUnavailable("HighLevel answered the OAuth grant without tokens")
        expires_in = answer.get("expires_in")
        return Grant(
            access_token=Secret(access),
            refresh_token=Secret(refresh),
            expires_in=int(expires_in) if isinstance(expires_in, int | float) else 86399,
            location_id=_text(answer.get("locationId")),
            company_id=_text(answer.get("companyId")),
            user_id=_text(answer.get("userId")),
            scope=_text(answer.get("scope")),
            user_type=_text(answer.get("userType")),
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(
                method, f"{self.base_url}{path}", timeout=self._timeout_s, **kwargs
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"HighLevel is unreachable: {type(exc).__name__}", retry_after=RETRY_AFTER_S
            ) from exc


def _refusal(response: httpx.Response, answer: dict[str, Any], what: str) -> None:
    if response.status_code >= 500:
        raise ServiceUnavailable(
            f"HighLevel failed {what} ({response.status_code})", retry_after=RETRY_AFTER_S
        )
    if response.status_code >= 400:
        said = answer.get("message") or answer.get("error_description") or answer.get("error")
        if isinstance(said, list):
            said = "; ".join(str(part) for part in said)
        reason = str(said or response.reason_phrase)
        raise HighLevelRefused(f"HighLevel refused {what} ({response.status_code}): {reason}"[:300])


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
