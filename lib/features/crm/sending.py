"""crm.sendMessage: send an SMS or email from the app through HighLevel, with optimistic UI.

    1. crm_send_begin     (command) members only; stores the message `sending` under the
                          client's id, or finds it: a retry of one already sending, pending or
                          delivered makes no API call and answers it as stored
    2. HighLevel          POST /conversations/messages with the location's access token
                          (tokens.py: refreshed first when it expires soon; a 401 refreshes it
                          and tries once more)
    3. crm_send_finish    (command) `pending` under HighLevel's messageId — the OutboundMessage
                          webhook then reconciles it, and its `new-message` carries the
                          clientId — or `failed` with the reason, published to the sender as
                          `message-failed` {id, clientId, conversationId, reason}

The answer is the message as stored (status pending, or failed with `error`): a failed send is
not an error of the call, it is a message the client shows as failed (retry: same clientId).
SQL: migration 20261130600100_crm_send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.commands import command
from lib.errors import SocklessError
from lib.features.crm import tokens
from lib.features.crm.highlevel import TokenRejected

if TYPE_CHECKING:
    from lib.features.crm.models import SendMessageInput
    from lib.services import Services


async def send(services: Services, *, user: str, input: SendMessageInput) -> dict[str, Any]:
    """{message, duplicate}: the message as stored after the attempt (or the retry)."""
    begun = await command(
        services,
        "crm_send_begin",
        p_user=user,
        p_conversation=input.conversationId,
        p_client_id=input.clientId,
        p_body=input.body,
        p_type=input.type,
    )
    if not begun["send"]:
        return {"message": begun["message"], "duplicate": True}
    message_id, error = None, None
    try:
        message_id = await _call(services, begun, input)
    except SocklessError as exc:
        error = exc.message
    finished = await command(
        services,
        "crm_send_finish",
        p_message=begun["message"]["id"],
        p_ghl_message_id=message_id,
        p_error=error,
    )
    return {"message": finished["message"], "duplicate": False}


async def _call(services: Services, begun: dict[str, Any], input: SendMessageInput) -> str:
    _, api, _ = tokens.configured(services)
    location = begun["locationId"]
    token = await tokens.access_token(services, location)

    async def attempt() -> str:
        sent = await api.send_message(
            token,
            type=input.type,
            contact_id=begun["contactId"],
            conversation_id=input.conversationId,
            body=input.body,
            subject=input.subject,
            user_id=begun.get("ghlUserId"),
        )
        return sent.message_id

    try:
        return await attempt()
    except TokenRejected:
        token = await tokens.access_token(services, location, rejected=token)
        return await attempt()
