"""GET /api/health -> {"status", "checks", "version"}; 503 naming the failing check."""

from lib.features import services
from lib.health import health
from lib.web import function

app = function(GET=health, services=services)
