"""Caps on request bodies, enforced as they arrive: a declared length over the size cap is refused before
anything is read, a body without one (chunked) is cut off once it passes the cap, and a body that is still
arriving ``read_seconds`` after the app began to read it (a slow-loris client trickling bytes) is cut off
with 408."""

from __future__ import annotations

import asyncio
import json
import time


class _Refused(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class BodyLimit:
    """ASGI middleware answering 413 to any request whose body exceeds ``max_bytes``, and 408 to one whose
    body has not fully arrived ``read_seconds`` after the app asked for it."""

    def __init__(self, app, max_bytes: int, read_seconds: float = 10.0):
        self.app, self.max_bytes, self.read_seconds = app, max_bytes, read_seconds

    @staticmethod
    async def _refuse(send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    def _too_large(self) -> _Refused:
        return _Refused(413, f"request body too large; this server takes at most {self.max_bytes} bytes")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._refuse(send, 413, str(self._too_large()))
        received = 0
        complete = False  # the whole body is in: later receives wait only for a disconnect, untimed
        deadline: float | None = None  # set when the app first asks for the body
        started = False

        async def limited_receive():
            nonlocal received, complete, deadline
            if complete:
                return await receive()
            if deadline is None:
                deadline = time.monotonic() + self.read_seconds
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.0) or 1e-3)
            except asyncio.TimeoutError:
                raise _Refused(408, f"request body not received within {self.read_seconds:g} s; send it at "
                                    "once") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
                complete = not message.get("more_body", False)
            else:  # http.disconnect
                complete = True
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _Refused as refused:
            if not started:
                await self._refuse(send, refused.status, refused.detail)
