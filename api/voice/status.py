"""POST /api/voice/status: the provider's call status callbacks (signed; a status only moves
forward). See lib.features.calls.webhooks."""

from lib.features import services
from lib.features.calls.webhooks import status
from lib.web import function

app = function(POST=status, services=services)
