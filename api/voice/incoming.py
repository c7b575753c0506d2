"""POST /api/voice/incoming: answer a call with TwiML/LaML that streams it to the voice bridge
(signed by the provider; see lib.features.calls.webhooks)."""

from lib.features import services
from lib.features.calls.webhooks import incoming
from lib.web import function

app = function(POST=incoming, services=services)
