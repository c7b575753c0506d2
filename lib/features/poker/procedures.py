"""`poker.*`: planning-poker sessions through tRPC. Every procedure needs a signed-in caller.

    poker.create     mutation  {name, deck?, tasks?} -> {session, paidWith, creditsLeft}
                               one credit, free with an active subscription (PAYMENT_REQUIRED
                               when neither); deck {type: fibonacci | t-shirt | custom, values}
    poker.get        query     {sessionId} -> the session (others' cards hidden until reveal)
    poker.list       query     {limit?, before?} or none -> {sessions, next}, newest first
    poker.join       mutation  {sessionId} -> {joined, session}         member-joined
    poker.leave      mutation  {sessionId} -> {sessionId, left}         member-left
    poker.addTask    mutation  {sessionId, title} -> {task}             task-added
    poker.startTask  mutation  {taskId} -> {task}       facilitator     task-started
    poker.vote       mutation  {taskId, value} -> {taskId, status, votes}  vote
    poker.reveal     mutation  {taskId} -> {task}       facilitator     votes-revealed
    poker.finalize   mutation  {taskId, estimate} -> {task}  facilitator  task-finalized
    poker.end        mutation  {sessionId} -> {sessionId, status, endedAt}  facilitator
                                                                        session-ended

Errors: FORBIDDEN (not a member / not the facilitator), NOT_FOUND (no such session or task),
PRECONDITION_FAILED (the session has ended; the task is not in a state that allows this),
BAD_REQUEST (invalid input; a card the deck does not have), PAYMENT_REQUIRED (poker.create).
Events go to `presence-poker-{sessionId}` (lib.features.poker.events).
"""

from __future__ import annotations

from pydantic import TypeAdapter

from lib.features.poker import commands
from lib.features.poker.models import (
    AddTaskInput,
    Created,
    CreateInput,
    CustomDeck,
    Ended,
    FinalizeInput,
    Joined,
    Left,
    ListInput,
    Session,
    SessionInput,
    SessionList,
    SessionSummary,
    TaskInput,
    TaskResult,
    Voted,
    VoteInput,
)
from lib.rpc.procedure import Context, Procedure


async def create(ctx: Context, input: CreateInput) -> Created:
    deck = input.deck
    result = await commands.create(
        ctx.services,
        user_id=ctx.user.user_id,
        name=input.name,
        deck_type=deck.type,
        deck_values=deck.values if isinstance(deck, CustomDeck) else None,
        tasks=input.tasks,
    )
    return Created.model_validate(result)


async def get(ctx: Context, input: SessionInput) -> Session:
    result = await commands.get(ctx.db, user_id=ctx.user.user_id, session_id=input.sessionId)
    return Session.model_validate(result)


async def list_sessions(ctx: Context, input: ListInput | None) -> SessionList:
    input = input or ListInput()
    rows = await commands.list_sessions(
        ctx.db, user_id=ctx.user.user_id, limit=input.limit + 1, before=input.before
    )
    page = [SessionSummary.model_validate(row) for row in rows[: input.limit]]
    more = len(rows) > input.limit
    return SessionList(sessions=page, next=page[-1].createdAt if more and page else None)


async def join(ctx: Context, input: SessionInput) -> Joined:
    result = await commands.join(ctx.services, user_id=ctx.user.user_id, session_id=input.sessionId)
    return Joined.model_validate(result)


async def leave(ctx: Context, input: SessionInput) -> Left:
    result = await commands.leave(
        ctx.services, user_id=ctx.user.user_id, session_id=input.sessionId
    )
    return Left.model_validate(result)


async def add_task(ctx: Context, input: AddTaskInput) -> TaskResult:
    result = await commands.add_task(
        ctx.services,
        user_id=ctx.user.user_id,
        session_id=input.sessionId,
        title=input.title,
    )
    return TaskResult.model_validate(result)


async def start_task(ctx: Context, input: TaskInput) -> TaskResult:
    result = await commands.start_task(ctx.services, user_id=ctx.user.user_id, task_id=input.taskId)
    return TaskResult.model_validate(result)


async def vote(ctx: Context, input: VoteInput) -> Voted:
    result = await commands.vote(
        ctx.services, user_id=ctx.user.user_id, task_id=input.taskId, value=input.value
    )
    return Voted.model_validate(result)


async def reveal(ctx: Context, input: TaskInput) -> TaskResult:
    result = await commands.reveal(ctx.services, user_id=ctx.user.user_id, task_id=input.taskId)
    return TaskResult.model_validate(result)


async def finalize(ctx: Context, input: FinalizeInput) -> TaskResult:
    result = await commands.finalize(
        ctx.services,
        user_id=ctx.user.user_id,
        task_id=input.taskId,
        estimate=input.estimate,
    )
    return TaskResult.model_validate(result)


async def end(ctx: Context, input: SessionInput) -> Ended:
    result = await commands.end(ctx.services, user_id=ctx.user.user_id, session_id=input.sessionId)
    return Ended.model_validate(result)


PROCEDURES = [
    Procedure(
        path="poker.create",
        kind="mutation",
        input=CreateInput,
        output=Created,
        handler=create,
        rate_limit=(10, 60),
        description="Create a session (one credit, or free with an active subscription).",
    ),
    Procedure(
        path="poker.get",
        kind="query",
        input=SessionInput,
        output=Session,
        handler=get,
        rate_limit=(240, 60),
        description="A session you are in; others' cards stay hidden until the reveal.",
    ),
    Procedure(
        path="poker.list",
        kind="query",
        input=TypeAdapter(ListInput | None),
        output=SessionList,
        handler=list_sessions,
        rate_limit=(120, 60),
        description="Your sessions, newest first (pass `next` as `before` to page).",
    ),
    Procedure(
        path="poker.join",
        kind="mutation",
        input=SessionInput,
        output=Joined,
        handler=join,
        rate_limit=(30, 60),
        description="Join a session by its id; then subscribe to presence-poker-{id}.",
    ),
    Procedure(
        path="poker.leave",
        kind="mutation",
        input=SessionInput,
        output=Left,
        handler=leave,
        rate_limit=(30, 60),
        description="Leave a session (the facilitator ends it instead).",
    ),
    Procedure(
        path="poker.addTask",
        kind="mutation",
        input=AddTaskInput,
        output=TaskResult,
        handler=add_task,
        rate_limit=(60, 60),
        description="Add a task to estimate (any member).",
    ),
    Procedure(
        path="poker.startTask",
        kind="mutation",
        input=TaskInput,
        output=TaskResult,
        handler=start_task,
        rate_limit=(60, 60),
        description="Open voting on a task, or re-vote a revealed one (facilitator).",
    ),
    Procedure(
        path="poker.vote",
        kind="mutation",
        input=VoteInput,
        output=Voted,
        handler=vote,
        rate_limit=(120, 60),
        description="Play a card of the deck on the open task; change it until the reveal.",
    ),
    Procedure(
        path="poker.reveal",
        kind="mutation",
        input=TaskInput,
        output=TaskResult,
        handler=reveal,
        rate_limit=(60, 60),
        description="Reveal every card with statistics (facilitator).",
    ),
    Procedure(
        path="poker.finalize",
        kind="mutation",
        input=FinalizeInput,
        output=TaskResult,
        handler=finalize,
        rate_limit=(60, 60),
        description="Record the agreed estimate of a revealed task (facilitator).",
    ),
    Procedure(
        path="poker.end",
        kind="mutation",
        input=SessionInput,
        output=Ended,
        handler=end,
        rate_limit=(10, 60),
        description="End the session; it is read-only afterwards (facilitator).",
    ),
]
