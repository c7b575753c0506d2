"""lib.events: channel names (Pusher form, Supabase topics) and the event envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lib.errors import BadRequest
from lib.events import MAX_EVENT_BYTES, Channel, Event, InvalidChannel, InvalidEvent

AT = datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)


def event(data: dict[str, object], *, id_: int = 7, channel: str = "private-user-42") -> Event:
    return Event(id=id_, type="note-added", channels=(Channel(channel),), data=data, at=AT)


@pytest.mark.parametrize(
    ("name", "kind", "topic", "private", "cache"),
    [
        ("private-user-42", "private", "user-42", True, False),
        ("room-1", "public", "room-1", False, False),
        ("presence-poker-1", "presence", "poker-1", True, False),
        ("private-encrypted-user-42", "encrypted", "user-42", True, False),
        ("cache-prices", "public", "cache-prices", False, True),
        ("private-cache-user-9", "private", "cache-user-9", True, True),
        ("a_b=c@d,e.f;g", "public", "a_b=c@d,e.f;g", False, False),
    ],
)
def test_channel_kinds_and_supabase_topics(name, kind, topic, private, cache):
    channel = Channel(name)
    assert (channel.kind, channel.topic, channel.private, channel.cache) == (
        kind,
        topic,
        private,
        cache,
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("x" * 201, "longer than 200"),
        ("room 1", "only letters"),
        ("room:1", "only letters"),
        ("#server-to-user-1", "only letters"),
        ("private-", "nothing after"),
        ("presence-", "nothing after"),
    ],
)
def test_invalid_channels_are_bad_requests(name, reason):
    with pytest.raises(InvalidChannel, match=reason) as caught:
        Channel(name)
    assert isinstance(caught.value, BadRequest)


def test_channel_of_200_characters_is_fine():
    assert Channel("private-" + "x" * 192).topic == "x" * 192


@pytest.mark.parametrize(
    "name", ["Note-Added", "note_added", "note--added", "-note", "", "a" * 201]
)
def test_event_names_are_kebab_case(name):
    with pytest.raises(InvalidEvent):
        Event(id=1, type=name, channels=(Channel("room-1"),), data={}, at=AT)


def test_an_event_needs_a_channel():
    with pytest.raises(InvalidEvent, match="at least one channel"):
        Event(id=1, type="vote", channels=(), data={}, at=AT)


def test_envelope_shape():
    assert event({"text": "hi"}).envelope() == {
        "id": "7",
        "type": "note-added",
        "at": "2026-11-21T10:00:00.123456Z",
        "data": {"text": "hi"},
    }


def test_from_outbox_row():
    row = {
        "id": 12,
        "channel": "private-user-42",
        "event": "note-added",
        "data": {"note": {"id": 1}},
        "at": "2026-11-21T10:00:00.123456Z",
        "inline": True,
    }
    parsed = Event.from_row(row)
    assert (parsed.id, parsed.type, parsed.channel.name, parsed.at) == (
        12,
        "note-added",
        "private-user-42",
        AT,
    )
    with pytest.raises(InvalidEvent, match="not an outbox event"):
        Event.from_row({"id": 1})


def test_small_event_is_sent_whole():
    small = event({"text": "x" * 100})
    assert json.loads(small.wire()) == small.envelope()


def test_oversized_event_is_sent_as_a_reference():
    big = event({"text": "x" * 50_000}, id_=1234)
    wire = big.wire()
    assert len(wire.encode()) < 1_000
    assert json.loads(wire) == {
        "id": "1234",
        "type": "note-added",
        "at": "2026-11-21T10:00:00.123456Z",
        "ref": {
            "channel": "private-user-42",
            "after": "1233",
            "url": "/api/realtime/history?channel=private-user-42&after=1233&limit=1",
        },
    }


def test_the_limit_counts_utf8_bytes_of_the_whole_envelope():
    overhead = len(json.dumps(event({"t": ""}).envelope(), separators=(",", ":")))
    fits = event({"t": "x" * (MAX_EVENT_BYTES - overhead)})
    assert not fits.oversized()
    assert fits.oversized(limit=MAX_EVENT_BYTES - 1)
    # "é" is 2 bytes: half as many characters already reach the limit
    wide = event({"t": "é" * ((MAX_EVENT_BYTES - overhead) // 2 + 1)})
    assert wide.oversized()


@pytest.mark.parametrize(
    ("channel", "topic"),
    [
        (
            "presence-poker-3f2b8c1e-0000-4000-8000-000000000001",
            "poker-3f2b8c1e-0000-4000-8000-000000000001",
        ),
        ("private-user-42", "user-42"),
        ("private-encrypted-user-42", "user-42"),
        ("presence-location-l1", "location-l1"),
        ("private-location-l1", "location-l1"),
        ("lobby", "lobby"),
    ],  # fmt: skip
)
def test_every_family_has_one_topic_and_the_topic_maps_back_to_its_events_channel(
    channel: str, topic: str
) -> None:
    from lib.realtime.topics import family_of_topic

    assert Channel(channel).topic == topic
    family = family_of_topic(topic)
    if channel.startswith(("private-", "presence-")):
        assert family is not None
        events = family.channel(topic)
        assert Channel(events).topic == topic
