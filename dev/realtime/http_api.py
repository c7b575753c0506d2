"""Pusher's HTTP API on the same port as the sockets: events, batches, channel queries and
terminate_connections, each authenticated exactly as Pusher authenticates it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .channels import Hub
from .config import Limits, RealtimeConfig
from .errors import ApiError
from .names import (
    ChannelKind,
    channel_name_problem,
    channel_type,
    event_name_problem,
    is_socket_id,
    user_id_problem,
)
from .signing import request_problem

_CHANNEL_INFO = frozenset({"user_count", "subscription_count", "cache"})


@dataclass(frozen=True, slots=True)
class Publish:
    """One validated event, addressed to one or more channels."""

    name: str
    data: str
    channels: list[str]
    socket_id: str | None


def parse_event(body: object, *, limits: Limits, single_channel: bool) -> Publish:
    """Validate one event of `/events` (`channels` list or `channel`) or of a batch
    (`channel` only). Raises ApiError with Pusher's status: 413 for data, 400 otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, "Each event must be a JSON object")
    name = body.get("name")
    problem = event_name_problem(name)
    if problem is not None:
        raise ApiError(400, f"Invalid event name: {problem}")
    data = body.get("data")
    if data is None:
        raise ApiError(400, "Missing 'data'")
    if not isinstance(data, str):
        data = json.dumps(data, ensure_ascii=False)
    size = len(data.encode())
    if size > limits.max_data_bytes:
        raise ApiError(
            413,
            f"Payload too large: 'data' is {size} bytes, "
            f"the limit is {limits.max_data_bytes} bytes",
        )
    if "channels" in body and not single_channel:
        channels = body["channels"]
        if not isinstance(channels, list) or not channels:
            raise ApiError(400, "'channels' must be a non-empty list of channel names")
    elif "channel" in body:
        channels = [body["channel"]]
    else:
        raise ApiError(400, "Missing 'channel'" if single_channel else "Missing 'channels'")
    if len(channels) > limits.max_channels_per_trigger:
        raise ApiError(
            400,
            f"Too many channels: {len(channels)}, the limit is {limits.max_channels_per_trigger}",
        )
    for channel in channels:
        problem = channel_name_problem(channel)
        if problem is not None:
            raise ApiError(400, f"Invalid channel: {problem}")
    if len(channels) > 1 and any(channel_type(c).kind is ChannelKind.ENCRYPTED for c in channels):
        raise ApiError(400, "Encrypted channels can only be triggered one channel at a time")
    socket_id = body.get("socket_id")
    if socket_id is not None and not is_socket_id(socket_id):
        raise ApiError(400, f"Invalid socket_id {socket_id!r}: expected digits.digits")
    return Publish(name=name, data=data, channels=channels, socket_id=socket_id)  # type: ignore[arg-type]


def _info_fields(raw: object) -> set[str]:
    if raw is None:
        return set()
    if not isinstance(raw, str):
        raise ApiError(400, "'info' must be a comma-separated string")
    fields = {item.strip() for item in raw.split(",") if item.strip()}
    unknown = fields - _CHANNEL_INFO
    if unknown:
        raise ApiError(400, f"Unknown info attributes: {', '.join(sorted(unknown))}")
    return fields


class HttpApi:
    def __init__(
        self, *, hub: Hub, config: RealtimeConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self._hub = hub
        self._config = config
        self._clock = clock

    def routes(self) -> list[Route]:
        return [
            Route("/apps/{app_id}/events", self.events, methods=["POST"]),
            Route("/apps/{app_id}/batch_events", self.batch_events, methods=["POST"]),
            Route("/apps/{app_id}/channels", self.channels, methods=["GET"]),
            Route("/apps/{app_id}/channels/{channel}", self.channel, methods=["GET"]),
            Route("/apps/{app_id}/channels/{channel}/users", self.users, methods=["GET"]),
            Route(
                "/apps/{app_id}/users/{user_id}/terminate_connections",
                self.terminate,
                methods=["POST"],
            ),
        ]

    # Endpoints

    async def events(self, request: Request) -> JSONResponse:
        body = await self._json(request)
        event = parse_event(body, limits=self._config.limits, single_channel=False)
        self._publish([event])
        fields = _info_fields(body.get("info"))
        if not fields:
            return JSONResponse({})
        infos = {channel: self._channel_info(channel, fields) for channel in event.channels}
        return JSONResponse({"channels": infos})

    async def batch_events(self, request: Request) -> JSONResponse:
        body = await self._json(request)
        batch = body.get("batch")
        if not isinstance(batch, list) or not batch:
            raise ApiError(400, "'batch' must be a non-empty list of events")
        limit = self._config.limits.max_batch_events
        if len(batch) > limit:
            raise ApiError(400, f"Batch too large: {len(batch)} events, the limit is {limit}")
        events = [
            parse_event(item, limits=self._config.limits, single_channel=True) for item in batch
        ]
        infos = [_info_fields(item.get("info")) for item in batch]
        self._publish(events)
        if not any(infos):
            return JSONResponse({})
        return JSONResponse(
            {
                "batch": [
                    self._channel_info(e.channels[0], fields) if fields else {}
                    for e, fields in zip(events, infos, strict=True)
                ]
            }
        )

    async def channels(self, request: Request) -> JSONResponse:
        self._authenticate(request, b"")
        prefix = request.query_params.get("filter_by_prefix", "")
        fields = _info_fields(request.query_params.get("info"))
        if fields - {"user_count"}:
            raise ApiError(400, "Only 'user_count' can be requested when listing channels")
        if fields and not prefix.startswith("presence-"):
            raise ApiError(400, "info=user_count requires filter_by_prefix=presence-")
        return JSONResponse(
            {
                "channels": {
                    name: self._channel_info(name, fields)
                    for name in sorted(self._hub.channels)
                    if name.startswith(prefix)
                }
            }
        )

    async def channel(self, request: Request) -> JSONResponse:
        self._authenticate(request, b"")
        name = self._channel_param(request)
        fields = _info_fields(request.query_params.get("info"))
        if "user_count" in fields and channel_type(name).kind is not ChannelKind.PRESENCE:
            raise ApiError(400, "info=user_count is only available for presence channels")
        if "cache" in fields and not channel_type(name).cached:
            raise ApiError(400, "info=cache is only available for cache channels")
        return JSONResponse(
            {"occupied": name in self._hub.channels, **self._channel_info(name, fields)}
        )

    async def users(self, request: Request) -> JSONResponse:
        self._authenticate(request, b"")
        name = self._channel_param(request)
        if channel_type(name).kind is not ChannelKind.PRESENCE:
            raise ApiError(400, "Users can only be listed for presence channels")
        channel = self._hub.channels.get(name)
        members = list(channel.members) if channel else []
        return JSONResponse({"users": [{"id": user_id} for user_id in members]})

    async def terminate(self, request: Request) -> JSONResponse:
        await self._json(request, allow_empty=True)
        user_id = request.path_params["user_id"]
        problem = user_id_problem(user_id)
        if problem is not None:
            raise ApiError(400, f"Invalid user id: {problem}")
        self._hub.terminate_user(user_id)
        return JSONResponse({})

    # Helpers

    def _publish(self, events: list[Publish]) -> None:
        for event in events:
            for channel in event.channels:
                self._hub.publish(
                    channel, event.name, event.data, exclude=event.socket_id, cache=True
                )

    def _channel_info(self, name: str, fields: set[str]) -> dict[str, object]:
        channel = self._hub.channels.get(name)
        info: dict[str, object] = {}
        if "user_count" in fields:
            info["user_count"] = len(channel.members) if channel else 0
        if "subscription_count" in fields:
            info["subscription_count"] = len(channel.subscribers) if channel else 0
        if "cache" in fields and self._hub.cached_frame(name) is not None:
            info["cache"] = {"ttl": self._config.cache_ttl}
        return info

    @staticmethod
    def _channel_param(request: Request) -> str:
        name = request.path_params["channel"]
        problem = channel_name_problem(name)
        if problem is not None:
            raise ApiError(400, f"Invalid channel: {problem}")
        return name  # type: ignore[no-any-return]

    async def _json(self, request: Request, *, allow_empty: bool = False) -> dict[str, object]:
        body = await self._read_body(request)
        self._authenticate(request, body)
        if allow_empty and not body.strip():
            return {}
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ApiError(400, "Request body must be a JSON object")
        return parsed

    async def _read_body(self, request: Request) -> bytes:
        limit = self._config.limits.max_request_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"Request body over {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"Request body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _authenticate(self, request: Request, body: bytes) -> None:
        if request.path_params["app_id"] != self._config.app_id:
            raise ApiError(404, f"Unknown app_id {request.path_params['app_id']}")
        problem = request_problem(
            key=self._config.key,
            secret=self._config.secret,
            method=request.method,
            path=request.scope["path"],
            params=dict(request.query_params),
            body=body,
            now=self._clock(),
            tolerance=self._config.timestamp_tolerance,
        )
        if problem is not None:
            raise ApiError(401, problem)
