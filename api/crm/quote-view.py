"""POST /api/crm/quote-view: a quote page's beacon (signed link token, view id, time on page)
-> `quote-viewed` to the sales rep, throttled per view. See lib.features.crm.quotes."""

from lib.features import services
from lib.features.crm.quotes import quote_view
from lib.web import function

app = function(POST=quote_view, services=services)
