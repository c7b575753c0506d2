"""POST /api/webhooks/clerk: Clerk's user.created/updated/deleted (Svix-signed with
CLERK_WEBHOOK_SECRET) -> profiles. See lib.core."""

from lib.features import BUNDLE, services
from lib.web import function
from lib.webhooks import ingest

app = function(POST=ingest.handler(BUNDLE.webhook("/api/webhooks/clerk")), services=services)
