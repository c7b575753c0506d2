"""POST /api/webhooks/broker/{connectionId} (vercel.json rewrites it here): a connection's
signed pushes (HMAC-SHA256, its own secret) -> positions, orders, balances. See
lib.features.trading.webhook."""

from lib.features import services
from lib.features.trading.webhook import receive
from lib.web import function

app = function(POST=receive, services=services)
