"""A short summary of a finished call: Anthropic's Messages API when ANTHROPIC_API_KEY is set,
else OpenAI's Chat Completions when OPENAI_API_KEY is set, else a local extractive summary.
A model that fails (unreachable, an error status, an unexpected body) falls back to the
extractive summary: a call is never left unsaved for want of a summary. Which kind a call
got is saved beside it (calls.summary_kind: "ai" or "extractive").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from worker.config import BridgeConfig
from worker.transcript import Entry

log = logging.getLogger("worker.summary")

MAX_SUMMARY = 2000
TIMEOUT_S = 15.0
PROMPT = (
    "Summarise this phone call in two or three sentences for the business's records: "
    "who wanted what, what was agreed, and any follow-up. Plain text only."
)

SummaryKind = Literal["extractive", "ai"]


@dataclass(frozen=True)
class Summary:
    text: str
    kind: SummaryKind


def extractive(
    entries: Sequence[Entry], *, goal: str, outcome: str | None, notes: str | None
) -> str:
    """A deterministic summary from the transcript itself (no model)."""
    said = [entry for entry in entries if entry.role == "caller"]
    replies = [entry for entry in entries if entry.role == "assistant"]
    parts = [f"Goal: {goal or 'not set'}."]
    parts.append(f"Outcome: {(outcome or 'not recorded').replace('_', ' ')}.")
    if notes:
        parts.append(f"Notes: {notes.rstrip('.')}.")
    if said:
        parts.append(f'The caller said first: "{said[0].text}"')
        if len(said) > 1:
            parts.append(f'and last: "{said[-1].text}".')
    else:
        parts.append("The caller said nothing that was transcribed.")
    if replies:
        parts.append(f'The assistant ended with: "{replies[-1].text}"')
    parts.append(f"({len(said)} caller and {len(replies)} assistant turns.)")
    return " ".join(parts)[:MAX_SUMMARY]


def _dialogue(entries: Sequence[Entry]) -> str:
    return "\n".join(f"{entry.role}: {entry.text}" for entry in entries)[:20_000]


async def _anthropic(config: BridgeConfig, http: httpx.AsyncClient, text: str) -> str:
    response = await http.post(
        f"{config.anthropic_api_url}/v1/messages",
        headers={
            "x-api-key": config.anthropic_api_key.get(),
            "anthropic-version": "2023-06-01",
        },
        json={
            "model": config.anthropic_model,
            "max_tokens": 300,
            "system": PROMPT,
            "messages": [{"role": "user", "content": text}],
        },
        timeout=TIMEOUT_S,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return "".join(
        block.get("text", "") for block in body["content"] if block.get("type") == "text"
    )


async def _openai(config: BridgeConfig, http: httpx.AsyncClient, text: str) -> str:
    response = await http.post(
        f"{config.openai_api_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {config.openai_api_key.get()}"},
        json={
            "model": config.openai_summary_model,
            "max_tokens": 300,
            "messages": [
                {"role": "system", "content": PROMPT},
                {"role": "user", "content": text},
            ],
        },
        timeout=TIMEOUT_S,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return str(body["choices"][0]["message"]["content"])


async def summarize(
    entries: Sequence[Entry],
    *,
    goal: str,
    outcome: str | None,
    notes: str | None,
    config: BridgeConfig,
    http: httpx.AsyncClient,
) -> Summary:
    fallback = Summary(extractive(entries, goal=goal, outcome=outcome, notes=notes), "extractive")
    if not entries:
        return fallback
    text = f"Goal: {goal}\nOutcome: {outcome or 'not recorded'}\n\n{_dialogue(entries)}"
    if config.anthropic_api_key:
        model = _anthropic
    elif config.openai_api_key:
        model = _openai
    else:
        return fallback
    try:
        summary = (await model(config, http, text)).strip()
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("summary model failed, using the extractive summary: %r", exc)
        return fallback
    return Summary(summary[:MAX_SUMMARY], "ai") if summary else fallback
