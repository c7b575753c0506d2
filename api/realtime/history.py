"""GET /api/realtime/history?channel=&after=&limit=: events a client missed on a channel."""

from lib.features import services
from lib.realtime.history import history_endpoint
from lib.web import function

app = function(GET=history_endpoint, services=services)
