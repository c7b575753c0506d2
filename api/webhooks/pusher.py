"""POST /api/webhooks/pusher: Pusher webhooks (signed with the app secret) -> who is online,
for messaging's offline notifications. See lib.features.messaging.presence."""

from lib.features.messaging.presence import pusher_webhook
from lib.web import function

app = function(POST=pusher_webhook)
