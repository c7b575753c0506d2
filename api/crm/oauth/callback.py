"""GET /api/crm/oauth/callback?code=: HighLevel's OAuth redirect -> the location's tokens,
encrypted at rest. See lib.features.crm.oauth."""

from lib.features import services
from lib.features.crm.oauth import callback
from lib.web import function

app = function(GET=callback, services=services)
