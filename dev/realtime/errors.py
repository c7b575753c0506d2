"""The HTTP API's one error type, rendered in one place (server.py) as a plain-text reason.

ApiError(status, reason)   400 bad input, 401 bad auth, 404 unknown app or route,
                           413 payload too large; never a stack trace
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
