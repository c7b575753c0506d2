"""POST /api/realtime/auth: Pusher channel authorization (pusher-js channelAuthorization)."""

from lib.features import services
from lib.realtime.pusher_auth import channel_auth
from lib.web import function

app = function(POST=channel_auth, services=services)
