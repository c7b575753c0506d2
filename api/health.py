"""GET /api/health -> {"status", "checks", "version"}; 503 naming the failing check (the
database, or the SQL objects the enabled features call)."""

from lib import health
from lib.features import BUNDLE, services
from lib.web import function

app = function(GET=health.handler(BUNDLE.schema, BUNDLE.migration), services=services)
