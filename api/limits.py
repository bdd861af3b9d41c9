"""Request body limits: a huge body gets a clear 413 before anything reads it."""

import contextlib

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem

MAX_BODY = 1 * 1024 * 1024
MAX_IMPORT_BODY = 20 * 1024 * 1024


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_IMPORT_BODY if "/imports/" in scope["path"] else MAX_BODY
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await problem(413, f"request body is larger than {limit // (1024 * 1024)} MiB")(scope, receive, send)
            return
        received, too_large, started = 0, False, False

        async def limited_receive():
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                too_large = True
                raise BodyTooLarge
            return message

        async def guarded_send(message):
            # FastAPI turns an error while reading the body into its own 400: drop that answer, send the 413
            nonlocal started
            if too_large and not started:
                return
            started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if too_large and not started:
            await problem(413, f"request body is larger than {limit // (1024 * 1024)} MiB")(scope, receive, send)


class BodyTooLarge(Exception):
    pass
