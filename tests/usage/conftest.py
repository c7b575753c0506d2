"""The pusher-js client fixture of the realtime-auth tests (`connect(user)`), shared here."""

from tests.test_realtime_auth_pusher_js import connect  # noqa: F401
