"""The rules of a session, through raw tRPC calls on the local stack: hidden votes, changing a
vote, who may do what, task states, re-votes, decks, statistics, ended sessions, listing."""

from __future__ import annotations

import uuid

from tests.poker.poker_harness import Trpc, user


async def started(trpc: Trpc, facilitator: str, members: tuple[str, ...], **kwargs):
    session = await trpc.session(facilitator, members=members, **kwargs)
    task = session["tasks"][0]["id"]
    await trpc.mutate("poker.startTask", {"taskId": task}, as_user=facilitator)
    return session, task


async def test_get_hides_other_votes_until_the_reveal(trpc: Trpc):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    session, task = await started(trpc, alice, (bob, carol))
    await trpc.mutate("poker.vote", {"taskId": task, "value": "3"}, as_user=bob)
    await trpc.mutate("poker.vote", {"taskId": task, "value": "5"}, as_user=carol)

    def votes(view) -> dict[str, str | None]:
        return {v["userId"]: v["value"] for v in view["tasks"][0]["votes"]}

    sid = {"sessionId": session["id"]}
    assert votes(await trpc.query("poker.get", sid, as_user=bob)) == {bob: "3", carol: None}
    assert votes(await trpc.query("poker.get", sid, as_user=alice)) == {bob: None, carol: None}
    before = await trpc.query("poker.get", sid, as_user=carol)
    assert votes(before) == {bob: None, carol: "5"}
    assert before["tasks"][0]["stats"] is None

    revealed = await trpc.mutate("poker.reveal", {"taskId": task}, as_user=alice)
    assert {v["userId"]: v["value"] for v in revealed["task"]["votes"]} == {bob: "3", carol: "5"}
    after = await trpc.query("poker.get", sid, as_user=carol)
    assert votes(after) == {bob: "3", carol: "5"}
    assert after["tasks"][0]["stats"] == {
        "votes": 2,
        "numericVotes": 2,
        "average": 4,
        "median": 4,
        "consensus": False,
        "distribution": [{"value": "3", "count": 1}, {"value": "5", "count": 1}],
    }


async def test_a_vote_changes_until_the_reveal_and_not_after(trpc: Trpc):
    alice, bob = user("alice"), user("bob")
    _, task = await started(trpc, alice, (bob,))
    vote = {"taskId": task, "value": "3"}
    assert (await trpc.mutate("poker.vote", vote, as_user=bob))["status"] == "new"
    assert (await trpc.mutate("poker.vote", vote, as_user=bob))["status"] == "unchanged"
    changed = await trpc.mutate("poker.vote", {**vote, "value": "13"}, as_user=bob)
    assert changed == {"taskId": task, "status": "changed", "votes": 1}
    await trpc.mutate("poker.reveal", {"taskId": task}, as_user=alice)
    closed = await trpc.fails("mutation", "poker.vote", vote, as_user=bob)
    assert closed["code"] == "PRECONDITION_FAILED"
    assert closed["message"] == f"the votes on task {task} are revealed: voting is closed"


async def test_a_card_outside_the_deck_is_a_bad_request(trpc: Trpc):
    alice, bob = user("alice"), user("bob")
    _, task = await started(trpc, alice, (bob,), deck={"type": "t-shirt"})
    error = await trpc.fails("mutation", "poker.vote", {"taskId": task, "value": "5"}, as_user=bob)
    assert (error["code"], error["httpStatus"]) == ("BAD_REQUEST", 400)
    assert error["message"] == "'5' is not a card of this session's deck (XS, S, M, L, XL, XXL, ?)"
    assert (await trpc.mutate("poker.vote", {"taskId": task, "value": "XL"}, as_user=bob))[
        "status"
    ] == "new"
    revealed = await trpc.mutate("poker.reveal", {"taskId": task}, as_user=alice)
    stats = revealed["task"]["stats"]
    assert (stats["numericVotes"], stats["average"], stats["median"]) == (0, None, None)
    assert stats["consensus"] is True


async def test_custom_deck_and_median_of_an_even_count(trpc: Trpc):
    alice, bob, carol, dave = user("alice"), user("bob"), user("carol"), user("dave")
    deck = {"type": "custom", "values": ["0.5", "1", "2", "4", "coffee"]}
    session, task = await started(trpc, alice, (bob, carol, dave), deck=deck)
    assert session["deck"] == {"type": "custom", "values": ["0.5", "1", "2", "4", "coffee"]}
    for who, value in ((alice, "0.5"), (bob, "4"), (carol, "2"), (dave, "coffee")):
        await trpc.mutate("poker.vote", {"taskId": task, "value": value}, as_user=who)
    stats = (await trpc.mutate("poker.reveal", {"taskId": task}, as_user=alice))["task"]["stats"]
    assert (stats["votes"], stats["numericVotes"]) == (4, 3)
    assert stats["average"] == 2.17  # (0.5 + 4 + 2) / 3, numeric cards only
    assert stats["median"] == 2
    assert [d["value"] for d in stats["distribution"]] == ["0.5", "2", "4", "coffee"]


async def test_only_the_facilitator_starts_reveals_finalizes_and_ends(trpc: Trpc):
    alice, bob = user("alice"), user("bob")
    session, task = await started(trpc, alice, (bob,), tasks=["One", "Two"])
    await trpc.mutate("poker.vote", {"taskId": task, "value": "8"}, as_user=bob)
    other = session["tasks"][1]["id"]
    for path, input, action in (
        ("poker.startTask", {"taskId": other}, "start a task"),
        ("poker.reveal", {"taskId": task}, "reveal the votes"),
        ("poker.finalize", {"taskId": task, "estimate": "8"}, "finalize an estimate"),
        ("poker.end", {"sessionId": session["id"]}, "end the session"),
    ):
        error = await trpc.fails("mutation", path, input, as_user=bob)
        assert (error["code"], error["httpStatus"]) == ("FORBIDDEN", 403), path
        assert error["message"] == f"only the facilitator can {action}"


async def test_non_members_can_neither_read_nor_vote(trpc: Trpc):
    alice, mallory = user("alice"), user("mallory")
    session, task = await started(trpc, alice, ())
    for kind, path, input in (
        ("query", "poker.get", {"sessionId": session["id"]}),
        ("mutation", "poker.vote", {"taskId": task, "value": "1"}),
        ("mutation", "poker.addTask", {"sessionId": session["id"], "title": "Sneaky"}),
    ):
        error = await trpc.fails(kind, path, input, as_user=mallory)
        assert error["code"] == "FORBIDDEN", path
        assert error["message"] == f"you are not a member of session {session['id']}: join it first"


async def test_unknown_sessions_and_tasks_are_not_found(trpc: Trpc):
    someone, missing = user(), str(uuid.uuid4())
    for kind, path, input, noun in (
        ("query", "poker.get", {"sessionId": missing}, "session"),
        ("mutation", "poker.join", {"sessionId": missing}, "session"),
        ("mutation", "poker.vote", {"taskId": missing, "value": "1"}, "task"),
        ("mutation", "poker.reveal", {"taskId": missing}, "task"),
    ):
        error = await trpc.fails(kind, path, input, as_user=someone)
        assert (error["code"], error["httpStatus"]) == ("NOT_FOUND", 404), path
        assert error["message"] == f"no poker {noun} {missing}"


async def test_task_states_re_vote_and_one_open_task(trpc: Trpc):
    alice, bob = user("alice"), user("bob")
    session = await trpc.session(alice, members=(bob,), tasks=["One", "Two"])
    one, two = (t["id"] for t in session["tasks"])

    early = await trpc.fails("mutation", "poker.vote", {"taskId": one, "value": "1"}, as_user=bob)
    assert early["message"] == f"voting on task {one} has not started"
    unrevealed = await trpc.fails("mutation", "poker.finalize", {"taskId": one, "estimate": "1"},
                                  as_user=alice)  # fmt: skip
    assert unrevealed["code"] == "PRECONDITION_FAILED"

    await trpc.mutate("poker.startTask", {"taskId": one}, as_user=alice)
    busy = await trpc.fails("mutation", "poker.startTask", {"taskId": two}, as_user=alice)
    assert busy["message"] == "another task of this session is being voted on: reveal it first"
    await trpc.mutate("poker.vote", {"taskId": one, "value": "2"}, as_user=bob)
    await trpc.mutate("poker.reveal", {"taskId": one}, as_user=alice)

    revote = await trpc.mutate("poker.startTask", {"taskId": one}, as_user=alice)
    assert (revote["task"]["round"], revote["task"]["votes"]) == (2, [])
    await trpc.mutate("poker.vote", {"taskId": one, "value": "3"}, as_user=bob)
    await trpc.mutate("poker.reveal", {"taskId": one}, as_user=alice)
    done = await trpc.mutate("poker.finalize", {"taskId": one, "estimate": "3"}, as_user=alice)
    assert (done["task"]["status"], done["task"]["estimate"]) == ("finalized", "3")
    again = await trpc.fails("mutation", "poker.startTask", {"taskId": one}, as_user=alice)
    assert again["code"] == "PRECONDITION_FAILED"
    assert "finalized (estimate 3)" in again["message"]

    added = await trpc.mutate("poker.addTask", {"sessionId": session["id"], "title": " Three "},
                              as_user=bob)  # fmt: skip
    assert (added["task"]["position"], added["task"]["title"]) == (3, "Three")


async def test_leaving_withdraws_the_open_vote_and_the_facilitator_cannot_leave(trpc: Trpc):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    session, task = await started(trpc, alice, (bob, carol))
    sid = {"sessionId": session["id"]}
    await trpc.mutate("poker.vote", {"taskId": task, "value": "5"}, as_user=bob)
    assert (await trpc.mutate("poker.leave", sid, as_user=bob))["left"] is True
    assert (await trpc.mutate("poker.leave", sid, as_user=bob))["left"] is False
    view = await trpc.query("poker.get", sid, as_user=carol)
    assert view["tasks"][0]["votes"] == []
    assert [m["userId"] for m in view["members"]] == [alice, carol]
    stuck = await trpc.fails("mutation", "poker.leave", sid, as_user=alice)
    assert stuck["code"] == "PRECONDITION_FAILED"
    assert stuck["message"] == "the facilitator cannot leave the session: end it instead"
    rejoined = await trpc.mutate("poker.join", sid, as_user=bob)
    assert rejoined["joined"] is True
    assert (await trpc.mutate("poker.join", sid, as_user=bob))["joined"] is False


async def test_an_ended_session_rejects_every_command_but_stays_readable(trpc: Trpc):
    alice, bob = user("alice"), user("bob")
    session, task = await started(trpc, alice, (bob,))
    sid = {"sessionId": session["id"]}
    ended = await trpc.mutate("poker.end", sid, as_user=alice)
    assert ended["status"] == "ended"
    message = f"session {session['id']} has ended: it takes no more commands"
    for who, path, input in (
        (bob, "poker.vote", {"taskId": task, "value": "1"}),
        (user(), "poker.join", sid),
        (bob, "poker.leave", sid),
        (bob, "poker.addTask", {**sid, "title": "Later"}),
        (alice, "poker.startTask", {"taskId": task}),
        (alice, "poker.reveal", {"taskId": task}),
        (alice, "poker.finalize", {"taskId": task, "estimate": "1"}),
        (alice, "poker.end", sid),
    ):
        error = await trpc.fails("mutation", path, input, as_user=who)
        assert (error["code"], error["httpStatus"], error["message"]) == (
            "PRECONDITION_FAILED",
            412,
            message,
        ), path
    view = await trpc.query("poker.get", sid, as_user=bob)
    assert view["status"] == "ended" and view["endedAt"] is not None


async def test_list_pages_through_my_sessions_newest_first(trpc: Trpc):
    alice, bob = user("alice"), user("bob")
    first = await trpc.session(alice, members=(bob,))
    second = await trpc.session(alice)
    third = await trpc.session(bob)
    mine = await trpc.query("poker.list", {}, as_user=bob)
    assert [s["id"] for s in mine["sessions"]] == [third["id"], first["id"]]
    assert [s["facilitator"] for s in mine["sessions"]] == [True, False]
    assert mine["next"] is None
    page = await trpc.query("poker.list", {"limit": 1}, as_user=alice)
    assert [s["id"] for s in page["sessions"]] == [second["id"]]
    rest = await trpc.query("poker.list", {"limit": 1, "before": page["next"]}, as_user=alice)
    assert [s["id"] for s in rest["sessions"]] == [first["id"]]
    assert rest["sessions"][0]["members"] == 2
