"""POST /api/realtime/user-auth: Pusher user sign-in (pusher-js userAuthentication).

The hyphenated file name is the URL: Vercel routes api/ by file path, and it loads the file
by path too, so the name need not be a Python identifier.
"""

from lib.features import services
from lib.realtime.pusher_auth import user_auth
from lib.web import function

app = function(POST=user_auth, services=services)
