"""What the model is told: instructions built from the call's goal and context, the greeting and
goodbye prompts, and the two tools (`end_call`, `record_outcome`). Pure functions."""

from __future__ import annotations

import json
from typing import Any, Literal

Outcome = Literal["goal_achieved", "not_interested", "callback_requested"]
OUTCOMES: tuple[Outcome, ...] = ("goal_achieved", "not_interested", "callback_requested")
MAX_CONTEXT_CHARS = 4000

END_CALL: dict[str, Any] = {
    "type": "function",
    "name": "end_call",
    "description": (
        "End the phone call. Use it when the conversation is finished or the caller asks to "
        "hang up. You will be asked to say a short goodbye; the line closes after it."
    ),
    "parameters": {
        "type": "object",
        "properties": {"reason": {"type": "string", "description": "Why the call ends."}},
        "additionalProperties": False,
    },
}

RECORD_OUTCOME: dict[str, Any] = {
    "type": "function",
    "name": "record_outcome",
    "description": "Record how the call went, as soon as it is clear. Call it once.",
    "parameters": {
        "type": "object",
        "properties": {
            "outcome": {"type": "string", "enum": list(OUTCOMES)},
            "notes": {"type": "string", "description": "Details worth keeping, briefly."},
        },
        "required": ["outcome"],
        "additionalProperties": False,
    },
}

TOOLS = [END_CALL, RECORD_OUTCOME]

GREETING = (
    "(The phone call is now connected. Greet the other person in one short sentence and "
    "say why you are calling or ask how you can help.)"
)
GOODBYE_AFTER_END_CALL = "Say one short, friendly goodbye sentence now. The call ends after it."
GOODBYES = {
    "max_duration": (
        "The call has reached its time limit. Apologise briefly and say goodbye in one short "
        "sentence; the call ends after it."
    ),
    "shutdown": (
        "The line has to close now for maintenance. Apologise briefly and say goodbye in one "
        "short sentence; the call ends after it."
    ),
}


def _context_lines(context: dict[str, Any]) -> str:
    lines = []
    for key, value in context.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"- {key}: {text}")
    joined = "\n".join(lines)
    return joined[:MAX_CONTEXT_CHARS]


def instructions(*, goal: str, context: dict[str, Any], direction: str) -> str:
    who = (
        "You placed this call on behalf of the business."
        if direction == "outbound"
        else "The caller phoned the business and you answered."
    )
    known = _context_lines(context) or "- (nothing beyond the goal)"
    return (
        "You are a friendly, concise voice assistant on a phone call. "
        f"{who}\n\n"
        f"Goal of this call: {goal or 'help the caller with what they need'}\n\n"
        f"What you know:\n{known}\n\n"
        "Speak naturally and briefly: one or two sentences per turn, no lists, no markdown. "
        "If the other person interrupts, stop and listen. "
        "When the goal is reached, the person declines, or asks to be called back later, call "
        "record_outcome. When the conversation is over or the person wants to hang up, call "
        "end_call."
    )


def parse_arguments(arguments: str) -> dict[str, Any]:
    """A function call's JSON arguments as a dict ({} when they are not an object)."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
