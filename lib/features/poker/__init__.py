"""Poker: planning-poker sessions with hidden votes, gated by credits or a subscription.

    procedures.py  poker.* (tRPC): create, get, list, join, leave, addTask, startTask, vote,
                   reveal, finalize, end; the list api/trpc.py serves
    commands.py    the service: one SQL function call per command, then commit_events
    models.py      inputs and outputs (pydantic; the deck is discriminated by `type`)
    events.py      the events on presence-poker-{sessionId}, as models
    decks.py       the standard decks (fibonacci, t-shirt) as data

The SQL side (migrations 202611210400..04): credit_ledger (append-only) and subscriptions;
poker_tasks and poker_votes beside the poker_sessions/poker_members tables channel
authorization already uses; private.* JSON builders and vote statistics; one security
definer function per command, service role only, each queuing its event in the same
transaction. A session's life:

    create (facilitator, pays) -> join* -> addTask* -> startTask -> vote* (hidden; changes
    allowed) -> reveal (cards + stats) -> finalize (estimate) -> ... -> end (read-only)
"""

from lib.feature import Feature
from lib.features.poker.events import FAMILY
from lib.features.poker.procedures import PROCEDURES
from lib.realtime.channels import UUID, ChannelRule, member_of

FEATURE = Feature(
    events=(FAMILY,),
    name="poker",
    procedures=PROCEDURES,
    channels=(ChannelRule("presence-poker-", UUID, member_of("poker")),),
    migration="20261121040400",
    schema=(
        *("poker_create", "poker_get", "poker_list", "poker_join", "poker_leave"),
        *("poker_add_task", "poker_start_task", "poker_vote", "poker_reveal"),
        *("poker_finalize", "poker_end"),
    ),
    description="Planning-poker sessions with hidden votes, gated by credits.",
)
