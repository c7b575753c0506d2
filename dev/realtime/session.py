"""What the server does with each frame a client sends. Synchronous: replies are queued."""

from __future__ import annotations

import json
import logging

from . import protocol
from .channels import Hub, SubscriptionRefused
from .config import RealtimeConfig
from .connection import Connection, Member, User
from .names import (
    MAX_NAME_LENGTH,
    SERVER_TO_USER_PREFIX,
    ChannelKind,
    channel_name_problem,
    channel_type,
    user_id_problem,
)
from .protocol import (
    ClientEvent,
    Code,
    Ping,
    Pong,
    ProtocolError,
    Signin,
    Subscribe,
    Unsubscribe,
)
from .signing import auth_matches, channel_string, signin_string
from .webhooks import WebhookSink

logger = logging.getLogger("dev.realtime")


class Session:
    def __init__(
        self, conn: Connection, *, hub: Hub, config: RealtimeConfig, webhooks: WebhookSink
    ) -> None:
        self._conn = conn
        self._hub = hub
        self._config = config
        self._webhooks = webhooks

    def handle_text(self, text: str) -> None:
        try:
            message = protocol.parse_client_frame(text)
            match message:
                case Ping():
                    self._conn.send(protocol.pong())
                case Pong():
                    pass
                case Subscribe():
                    self._subscribe(message)
                case Unsubscribe():
                    if isinstance(message.channel, str):
                        self._hub.leave(self._conn, message.channel)
                case Signin():
                    self._signin(message)
                case ClientEvent():
                    self._client_event(message)
        except ProtocolError as exc:
            self._conn.send(protocol.error(exc.message, exc.code))

    # pusher:subscribe

    def _subscribe(self, message: Subscribe) -> None:
        name = message.channel
        problem = channel_name_problem(name)
        if problem is not None or not isinstance(name, str):
            raise ProtocolError(f"Cannot subscribe: {problem}")
        conn = self._conn
        try:
            member = self._authorize(name, message)
            if name in conn.channels:
                channel = self._hub.channels[name]
            else:
                channel = self._hub.join(conn, name, member)
        except SubscriptionRefused as exc:
            logger.debug("subscription of %s to %s refused: %s", conn.socket_id, name, exc.message)
            conn.send(
                protocol.subscription_error(
                    name, kind=exc.kind, message=exc.message, status=exc.status
                )
            )
            return
        presence = channel.presence() if channel.type.kind is ChannelKind.PRESENCE else None
        conn.send(protocol.subscription_succeeded(name, presence))
        if channel.type.cached:
            cached = self._hub.cached_frame(name)
            if cached is not None:
                conn.send(cached)
            else:
                conn.send(protocol.cache_miss(name))
                self._webhooks.emit({"name": "cache_miss", "channel": name})

    def _authorize(self, name: str, message: Subscribe) -> Member | None:
        """Check the subscription's signature; return the presence member it declares."""
        kind = channel_type(name)
        user = self._conn.user
        if kind.kind is ChannelKind.SERVER_TO_USER:
            if user is None or name != f"{SERVER_TO_USER_PREFIX}{user.user_id}":
                raise SubscriptionRefused("AuthError", "Sign in as this user to subscribe", 401)
            return None
        if not kind.needs_auth:
            return None
        channel_data = message.channel_data
        if channel_data is not None and not isinstance(channel_data, str):
            raise SubscriptionRefused("AuthError", "channel_data must be a JSON string", 401)
        signed = channel_string(self._conn.socket_id, name, channel_data)
        if not auth_matches(
            key=self._config.key,
            secret=self._config.secret,
            string_to_sign=signed,
            auth=message.auth,
        ):
            raise SubscriptionRefused(
                "AuthError",
                f"Invalid signature: expected HMAC SHA256 hex digest of {signed!r}",
                401,
            )
        if kind.kind is not ChannelKind.PRESENCE:
            return None
        if channel_data is None:
            if user is None:
                raise SubscriptionRefused(
                    "AuthError", "Presence channels need channel_data or a signed-in user", 401
                )
            return Member(user.user_id, user.user_info)
        return self._member(channel_data)

    def _member(self, channel_data: str) -> Member:
        limits = self._config.limits
        try:
            data = json.loads(channel_data)
        except ValueError:
            data = None
        user_id = data.get("user_id") if isinstance(data, dict) else None
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id:
            raise SubscriptionRefused("AuthError", "channel_data must be JSON with a user_id", 401)
        if len(user_id) > limits.max_user_id_length:
            raise SubscriptionRefused(
                "LimitReached",
                f"user_id is longer than {limits.max_user_id_length} characters",
                Code.OVER_CAPACITY,
            )
        user_info = data.get("user_info") if isinstance(data, dict) else None
        if len(json.dumps(user_info).encode()) > limits.max_user_info_bytes:
            raise SubscriptionRefused(
                "LimitReached",
                f"user_info is larger than {limits.max_user_info_bytes} bytes",
                Code.OVER_CAPACITY,
            )
        return Member(user_id, user_info)

    # pusher:signin

    def _signin(self, message: Signin) -> None:
        conn = self._conn
        user_data = message.user_data
        problem: str | None
        if not isinstance(user_data, str):
            problem = "user_data must be a JSON string"
        elif not auth_matches(
            key=self._config.key,
            secret=self._config.secret,
            string_to_sign=signin_string(conn.socket_id, user_data),
            auth=message.auth,
        ):
            problem = "Invalid signature for pusher:signin"
        else:
            try:
                parsed = json.loads(user_data)
            except ValueError:
                parsed = None
            user_id = parsed.get("id") if isinstance(parsed, dict) else None
            problem = user_id_problem(user_id)
            if problem is None and isinstance(parsed, dict) and isinstance(user_id, str):
                self._hub.sign_in(conn, User(user_id, user_data, parsed.get("user_info")))
                conn.send(protocol.signin_success(user_data))
                return
        logger.debug("sign-in of %s refused: %s", conn.socket_id, problem)
        conn.send(protocol.error(f"Sign-in failed: {problem}", Code.UNAUTHORIZED))
        conn.close(Code.UNAUTHORIZED, "Sign-in failed")

    # client-* events

    def _client_event(self, message: ClientEvent) -> None:
        conn = self._conn
        name = message.channel
        if not isinstance(name, str) or name not in conn.channels:
            raise ProtocolError(
                "Client event rejected: subscribe to the channel first", Code.CLIENT_EVENT_REJECTED
            )
        if not channel_type(name).accepts_client_events:
            raise ProtocolError(
                "Client event rejected: only supported on private and presence channels",
                Code.CLIENT_EVENT_REJECTED,
            )
        if len(message.event) > MAX_NAME_LENGTH:
            raise ProtocolError(
                f"Client event rejected: name over {MAX_NAME_LENGTH} characters",
                Code.CLIENT_EVENT_REJECTED,
            )
        data = message.data if isinstance(message.data, str) else json.dumps(message.data)
        if len(data.encode()) > self._config.limits.max_data_bytes:
            raise ProtocolError(
                f"Client event rejected: data over {self._config.limits.max_data_bytes} bytes",
                Code.CLIENT_EVENT_REJECTED,
            )
        if not conn.client_events.take():
            raise ProtocolError(
                "Client event rejected: more than "
                f"{self._config.limits.client_events_per_second} per second",
                Code.CLIENT_EVENT_REJECTED,
            )
        member = conn.channels[name]
        user_id = member.user_id if member is not None else None
        self._hub.publish(
            name, message.event, message.data, exclude=conn.socket_id, user_id=user_id
        )
        hook: dict[str, object] = {
            "name": "client_event",
            "channel": name,
            "event": message.event,
            "data": data,
            "socket_id": conn.socket_id,
        }
        if user_id is not None:
            hook["user_id"] = user_id
        self._webhooks.emit(hook)
