"""Hypothesis properties of the pure codecs at our edges: the event codec (lib/events), the
webhook verifiers (lib/webhooks), superjson (lib/rpc) and channel names (lib/realtime).

What must hold for any input: a signed delivery verifies (or is a 400 for a body that is not
the provider's envelope), anything unsigned or tampered with is refused with a 4xx, and no
input makes a codec raise anything but our typed errors (which the edge answers as 4xx)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from lib.errors import BadRequest, SocklessError
from lib.events import MAX_EVENT_BYTES, Channel, Event, InvalidChannel, InvalidEvent, encode
from lib.realtime.channels import USER_RULES, ChannelRules, validate_channel_name
from lib.rpc import superjson, wire
from lib.vercel_project import Rewrite, source_pattern
from lib.webhooks.verifiers import Delivery, Verified
from tests.webhooks import test_verifiers as signed

PROPERTIES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text a database can hold (no lone surrogates, no U+0000): what outbox rows carry.
stored_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | stored_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(stored_text, inner, max_size=5),
    max_leaves=30,
)
json_objects = st.dictionaries(stored_text, json_values, max_size=6)
channel_chars = "-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_=@,.;"
valid_channels = st.tuples(
    st.sampled_from(["", "private-", "presence-", "private-encrypted-", "private-cache-"]),
    st.text(channel_chars, min_size=1, max_size=150),
).map("".join)


# -- channel names -------------------------------------------------------------------------------
@PROPERTIES
@given(st.text(max_size=260))
def test_any_string_is_a_channel_or_an_invalid_channel(name: str):
    try:
        channel = Channel(name)
    except InvalidChannel as exc:
        assert exc.status == 400
        return
    assert channel.name == name and 0 < len(name) <= 200
    assert channel.private == (channel.kind != "public")
    assert channel.topic and name.endswith(channel.topic)


@PROPERTIES
@given(valid_channels)
def test_well_formed_names_parse_and_keep_their_kind(name: str):
    channel = Channel(name)
    expected = (
        "encrypted"
        if name.startswith("private-encrypted-")
        else "private"
        if name.startswith("private-")
        else "presence"
        if name.startswith("presence-")
        else "public"
    )
    assert channel.kind == expected
    assert validate_channel_name(name) == name


@PROPERTIES
@given(st.one_of(st.text(max_size=300), st.none(), st.integers(), st.binary(max_size=20)))
def test_channel_authorization_names_are_validated_or_refused_with_a_400(name: Any):
    try:
        validate_channel_name(name)
    except BadRequest:
        return
    rules = ChannelRules(USER_RULES)
    try:
        rules.rule_for(name)
    except SocklessError as exc:
        assert exc.status in (400, 403)


# -- the event codec -----------------------------------------------------------------------------
@PROPERTIES
@given(
    st.integers(1, 2**62),
    st.from_regex(r"[a-z0-9]+(-[a-z0-9]+){0,3}", fullmatch=True),
    valid_channels,
    json_objects,
)
def test_an_event_goes_out_whole_when_it_fits_else_as_a_reference(id_, type_, name, data):
    event = Event(id=id_, type=type_, channels=(Channel(name),), data=data, at=datetime.now(UTC))
    sent = json.loads(event.wire())
    assert len(event.wire().encode()) <= MAX_EVENT_BYTES or "ref" in sent
    if event.oversized():
        assert sent["ref"]["channel"] == name and sent["ref"]["after"] == str(id_ - 1)
    else:
        assert sent == json.loads(encode(event.envelope()))
        assert sent["data"] == data and sent["id"] == str(id_)


@PROPERTIES
@given(st.dictionaries(st.sampled_from(["id", "event", "channel", "data", "at"]), json_values))
def test_any_outbox_row_is_an_event_or_an_invalid_event(row: dict[str, Any]):
    try:
        event = Event.from_row(row)
    except (InvalidEvent, InvalidChannel):
        return
    assert event.id == int(row["id"])


@PROPERTIES
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers())
def test_an_outbox_row_id_that_is_no_integer_is_an_invalid_event(id_: Any):
    row = {"id": id_, "event": "x", "channel": "c", "at": "2026-01-01T00:00:00+00:00"}
    with contextlib.suppress(InvalidEvent):
        assert Event.from_row(row).id == int(id_)


# -- superjson ------------------------------------------------------------------------------------
@PROPERTIES
@given(json_values)
def test_a_plain_superjson_envelope_carries_its_value(value: Any):
    assert superjson.deserialize({"json": value}) == value
    assert superjson.deserialize({"json": value, "meta": {"values": {}}}) == value


path_parts = st.text(max_size=3) | st.integers(0, 5).map(str) | st.sampled_from(["²", "٣"])
annotations = st.dictionaries(
    st.lists(path_parts, min_size=1, max_size=3).map(".".join),
    st.sampled_from([["undefined"], ["bigint"], ["map"], ["set"], ["Date"], []]),
    max_size=4,
)


@PROPERTIES
@given(json_values, annotations | json_values)
def test_any_meta_annotations_deserialize_without_raising(value: Any, meta: Any):
    envelope = {"json": value, "meta": {"values": meta, "v": 1}}
    superjson.deserialize(envelope)
    parsed = wire.parse_inputs(json.dumps(envelope), batch=False, count=1)
    assert parsed.superjson and parsed.error is None


@PROPERTIES
@given(json_objects.filter(bool), st.data())
def test_an_undefined_annotation_removes_exactly_that_key(value: dict[str, Any], data: Any):
    key = data.draw(st.sampled_from(sorted(value)))
    path = key.replace("\\", "\\\\").replace(".", "\\.")
    result = superjson.deserialize({"json": dict(value), "meta": {"values": {path: ["undefined"]}}})
    assert result == {k: v for k, v in value.items() if k != key}


@PROPERTIES
@given(st.text(max_size=2000))
def test_any_trpc_input_text_parses_or_is_a_bad_request(text: str):
    for batch in (False, True):
        parsed = wire.parse_inputs(text, batch=batch, count=2)
        if parsed.error is not None:
            assert parsed.error.status == 400


# -- webhook verifiers ---------------------------------------------------------------------------
VERIFIERS: dict[str, tuple[Any, Any]] = {
    "stripe": (
        signed.StripeVerifier(signed.STRIPE_SECRET),
        lambda body: signed.stripe_signed(body),
    ),
    "ghl": (
        signed.GHL,
        lambda body: signed.delivery(body, {"X-GHL-Signature": signed.ed_sign(body)}),
    ),
    "clerk": (signed.STANDARD, lambda body: signed.standard_signed(body)),
    "pusher": (signed.PUSHER, lambda body: signed.pusher_signed(body)),
    "broker": (signed.SHARED, lambda body: signed.broker_signed(body)),
}
SIGNATURE_HEADERS = [
    "Stripe-Signature",
    "X-GHL-Signature",
    "X-WH-Signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-Pusher-Key",
    "X-Pusher-Signature",
    "X-Webhook-Timestamp",
    "X-Webhook-Signature",
    "X-Twilio-Signature",
    "content-type",
]
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
bodies = json_objects.map(lambda obj: json.dumps(obj).encode())


@pytest.mark.parametrize("provider", sorted(VERIFIERS))
@PROPERTIES
@given(body=bodies)
def test_a_signed_body_verifies_or_is_a_bad_request(provider: str, body: bytes):
    verifier, sign = VERIFIERS[provider]
    try:
        verified = verifier.verify(sign(body))
    except BadRequest:  # signed, but not the provider's envelope (e.g. Stripe without an id)
        return
    assert isinstance(verified, Verified)
    assert verified.payload == json.loads(body)


@pytest.mark.parametrize("provider", sorted(VERIFIERS))
@PROPERTIES
@given(body=bodies, data=st.data())
def test_a_tampered_body_is_refused(provider: str, body: bytes, data: Any):
    verifier, sign = VERIFIERS[provider]
    delivery = sign(body)
    index = data.draw(st.integers(0, len(body) - 1))
    flipped = bytes([body[index] ^ data.draw(st.integers(1, 255))])
    tampered = body[:index] + flipped + body[index + 1 :]
    with pytest.raises(SocklessError) as refused:
        verifier.verify(Delivery(tampered, delivery.headers, url=delivery.url, now=delivery.now))
    assert 400 <= refused.value.status < 500


@pytest.mark.parametrize("provider", [*sorted(VERIFIERS), "form"])
@PROPERTIES
@given(
    body=st.binary(max_size=400) | bodies,
    headers=st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), header_values, max_size=6),
)
def test_unsigned_deliveries_are_refused_with_a_4xx(provider: str, body: bytes, headers: dict):
    verifier = signed.FORM_VERIFIER if provider == "form" else VERIFIERS[provider][0]
    with pytest.raises(SocklessError) as refused:
        verifier.verify(Delivery(body, Headers(headers), url=signed.URL, now=signed.NOW))
    assert 400 <= refused.value.status < 500


# -- the Vercel router (lib/vercel_project.py) ---------------------------------------------------
@PROPERTIES
@given(st.text(st.characters(exclude_characters="/?#"), min_size=1, max_size=40))
@example("\\c")
@example("\\1")
def test_any_path_segment_is_rewritten_as_it_is(segment: str):
    """The fuzz found `/api/cron/\\c` crashing the router (the segment was a regex template)."""
    rewrite = Rewrite(source_pattern("/api/cron/:job"), "/api/cron?job=:job")
    assert rewrite.apply(f"/api/cron/{segment}") == f"/api/cron?job={segment}"
