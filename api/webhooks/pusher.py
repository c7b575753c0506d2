"""POST /api/webhooks/pusher: Pusher webhooks (signed with the app secret) -> who is online,
for messaging's offline notifications. See lib.features.messaging.presence."""

from lib.features import BUNDLE, services
from lib.web import function
from lib.webhooks import ingest

app = function(POST=ingest.handler(BUNDLE.webhook("/api/webhooks/pusher")), services=services)
