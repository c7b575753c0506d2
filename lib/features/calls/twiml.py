"""TwiML / LaML (SignalWire cXML) documents the voice webhook answers with. Pure functions.

`connect_stream` is the answer to an accepted call:

    <Response>
      <Connect>
        <Stream url="wss://bridge/media" [codec="L16@24000h"]>
          <Parameter name="callId" value="..."/>
          <Parameter name="token" value="..."/>
        </Stream>
      </Connect>
      <Say>fallback</Say>
      <Hangup/>
    </Response>

`<Connect>` blocks while the stream is open; the verbs after it run only when the bridge
closes the stream without hanging up (it is down, restarting, or lost OpenAI), so the caller
hears an apology instead of dead air. Parameters travel in `<Parameter>` elements: stream
URLs take no query strings (Twilio error 31920).
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

FALLBACK = "Sorry, our assistant is not available right now. Please try again later. Goodbye."
NOT_IN_SERVICE = "Sorry, this number is not in service. Goodbye."
L16_CODEC = "L16@24000h"

HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def _document(*verbs: str) -> str:
    return f"{HEAD}<Response>{''.join(verbs)}</Response>"


def say(text: str) -> str:
    return f"<Say>{escape(text)}</Say>"


def connect_stream(
    stream_url: str,
    parameters: Mapping[str, str],
    *,
    codec: str | None = None,
    fallback: str = FALLBACK,
) -> str:
    """Stream the call to `stream_url` with `parameters`; `fallback` is spoken if the stream
    ends without the bridge hanging up. `codec` is SignalWire's (e.g. L16@24000h)."""
    if "?" in stream_url:
        raise ValueError("stream URLs take no query string; pass values as parameters")
    attributes = f"url={quoteattr(stream_url)}"
    if codec:
        attributes += f" codec={quoteattr(codec)}"
    params = "".join(
        f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
        for name, value in parameters.items()
    )
    return _document(
        f"<Connect><Stream {attributes}>{params}</Stream></Connect>", say(fallback), "<Hangup/>"
    )


def say_and_hang_up(text: str) -> str:
    return _document(say(text), "<Hangup/>")
