"""GET /api/openapi.json (vercel.json rewrites it here): the OpenAPI document of every function
this deployment serves, generated from the enabled features (lib.openapi)."""

from lib import openapi
from lib.features import BUNDLE, services
from lib.web import function

app = function(GET=openapi.handler(BUNDLE), services=services)
