"""What runs inside each Ray Serve replica: the engine's ASGI app, stamped with the replica.

:func:`deployment_class` builds the Serve deployment (Ray is imported only then).
Each replica builds its own backend and app with :func:`~dalle_widgets.engine.create_app`
when it starts, so nothing but plain options crosses the wire. :class:`ReplicaStamp`
wraps that app: every response names the replica that served it
(``x-dalle-widgets-replica``), and ``GET /health`` also lists the deployment's
replicas and their states, as the Serve controller sees them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._middleware import route_path
from .urls import ImageURLStore

__all__ = [
    "REPLICA_HEADER",
    "ImageURLMirror",
    "MirroredURLs",
    "ReplicaStamp",
    "deployment_class",
    "replica_states",
]

logger = logging.getLogger("dalle_widgets")

REPLICA_HEADER = "x-dalle-widgets-replica"
_REQUEST_ID = b"x-request-id"
_IMAGES = "/images/"


class ImageURLMirror:
    """A Ray actor per application: every replica's ``response_format=url`` images, by id.

    A link names no replica, and Serve's proxy may send its ``GET`` to any of them;
    the replica that does not hold the image fetches it from here.
    """

    def __init__(self, ttl: float) -> None:
        self._store = ImageURLStore(ttl=ttl)

    def put(self, key: str, png: bytes) -> None:
        self._store.put(png, key=key)

    def get(self, key: str) -> bytes | None:
        return self._store.get(key)


class MirroredURLs(ImageURLStore):
    """A replica's URL store: images kept here and copied to the application's mirror.

    ``put`` sends the copy without waiting; :meth:`flush` (awaited by
    :class:`ReplicaStamp` before the response that carries the link is finished)
    makes sure the copy has landed before the client can follow the link.
    """

    def __init__(self, mirror: Any, *, ttl: float) -> None:
        super().__init__(ttl=ttl)
        self.mirror = mirror
        self._pending: list[Any] = []

    def put(self, png: bytes, key: str | None = None) -> str:
        key = super().put(png, key)
        self._pending.append(self.mirror.put.remote(key, png))
        return key

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def fetch(self, key: str) -> bytes | None:
        """The PNG from this replica, else from the mirror (None when nobody has it)."""
        local = self.get(key)
        if local is not None:
            return local
        return await self.mirror.get.remote(key)


class ReplicaStamp:
    """ASGI middleware: the replica id on every response, the deployment's replicas in /health.

    Ray Serve's proxy adds its own ``x-request-id`` to each response; the engine's is
    dropped here so a response carries one id (Serve's, the one in Serve's logs).

    Parameters
    ----------
    app : ASGI app
        The engine's app (from ``create_app``).
    replica_id : str
        This replica's id.
    replicas : async callable returning a dict
        What ``/health`` adds under ``"deployment"`` (name, status, replicas).
    """

    def __init__(
        self,
        app: ASGIApp,
        replica_id: str,
        replicas: Callable[[], Awaitable[dict[str, Any]]],
        urls: MirroredURLs | None = None,
    ) -> None:
        self.app = app
        self.replica_id = replica_id
        self.replicas = replicas
        self.urls = urls
        self._header = (REPLICA_HEADER.encode(), replica_id.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = route_path(scope), scope.get("method")
        if path == "/health" and method == "GET":
            await self._health(scope, receive, send)
            return
        if self.urls is not None and method == "GET" and path.startswith(_IMAGES) and path.endswith(".png"):
            key = path[len(_IMAGES) : -len(".png")]
            if self.urls.get(key) is None and await self._send_mirrored(key, send):
                return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": self._headers(message.get("headers", []))}
            elif self.urls is not None and not message.get("more_body", False):
                await self.urls.flush()  # the links in this answer resolve on every replica
            await send(message)

        await self.app(scope, receive, stamped)

    def _headers(self, headers: Any) -> list[tuple[bytes, bytes]]:
        kept = [(k, v) for k, v in headers if k.lower() != _REQUEST_ID]
        return [*kept, self._header]

    async def _send_mirrored(self, key: str, send: Send) -> bool:
        """Answer with another replica's image from the mirror; False when it has none."""
        assert self.urls is not None
        png = await self.urls.fetch(key)
        if png is None:
            return False
        headers = [
            (b"content-type", b"image/png"),
            (b"content-length", str(len(png)).encode()),
            (b"cache-control", b"private, max-age=3600"),
            self._header,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": png})
        return True

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if start.get("status") == 200:
            try:
                report = json.loads(body)
                report["replica"] = self.replica_id
                report["deployment"] = await self.replicas()
                body = json.dumps(report).encode()
            except (ValueError, TypeError):
                logger.warning("offline engine on Ray: /health answered something other than JSON")
        headers = [
            (k, v) for k, v in self._headers(start.get("headers", [])) if k.lower() != b"content-length"
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _name(value: Any) -> str:
    """An enum member's value (``ReplicaState.RUNNING`` -> ``"RUNNING"``), else ``str(value)``."""
    return str(getattr(value, "value", value))


def replica_states(details: Mapping[str, Any], app_name: str, deployment: str) -> dict[str, Any]:
    """The deployment's part of the Serve controller's instance details, trimmed for /health.

    >>> details = {"applications": {"a": {"deployments": {"engine": {
    ...     "status": "HEALTHY", "replicas": [{"replica_id": "r1", "state": "RUNNING",
    ...     "pid": 7, "node_ip": "127.0.0.1", "actor_id": "x"}]}}}}}
    >>> replica_states(details, "a", "engine")["replicas"]
    [{'id': 'r1', 'state': 'RUNNING', 'pid': 7, 'node_ip': '127.0.0.1'}]
    """
    app = (details.get("applications") or {}).get(app_name) or {}
    dep = (app.get("deployments") or {}).get(deployment)
    if not dep:
        return {"name": deployment, "status": "NOT_FOUND", "replicas": []}
    return {
        "name": deployment,
        "status": _name(dep.get("status")),
        "replicas": [
            {
                "id": r.get("replica_id"),
                "state": _name(r.get("state")),
                "pid": r.get("pid"),
                "node_ip": r.get("node_ip"),
            }
            for r in dep.get("replicas") or []
        ],
    }


def deployment_class(serve: Any) -> type:
    """The Serve deployment class (``serve`` is ``ray.serve``, passed in so Ray loads lazily)."""

    @serve.ingress()
    class DalleWidgetsEngine:
        """One replica: a backend and the engine's app over it, built when the replica starts."""

        def __init__(
            self,
            backend: str,
            backend_options: Mapping[str, Any],
            app_options: Mapping[str, Any],
            mirror: tuple[str, str] | None = None,
        ) -> None:
            self._backend = backend
            self._backend_options = dict(backend_options)
            self._app_options = dict(app_options)
            self._mirror = mirror
            self._controller: Any = None

        def __serve_build_asgi_app__(self) -> ASGIApp:
            from .app import create_app
            from .backends import get_backend

            context = serve.get_replica_context()
            self._app_name = context.app_name
            self._deployment = context.deployment
            backend = get_backend(self._backend, **self._backend_options)
            app_options = {"max_concurrency": getattr(backend, "max_concurrency", 2), **self._app_options}
            app = create_app(backend, **app_options)
            replica_id = context.replica_id.unique_id
            urls = None
            if self._mirror is not None:
                import ray

                name, namespace = self._mirror
                engine = app.state.engine
                urls = MirroredURLs(ray.get_actor(name, namespace=namespace), ttl=engine.urls.ttl)
                engine.urls = urls
            logger.info("offline engine replica %s ready (backend %s)", replica_id, backend.name)
            return ReplicaStamp(app, replica_id, self._replicas, urls)

        async def _replicas(self) -> dict[str, Any]:
            import ray
            from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE

            try:
                if self._controller is None:
                    self._controller = ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
                details = await asyncio.wait_for(
                    self._controller.get_serve_instance_details.remote(), timeout=5
                )
            except Exception as exc:  # noqa: BLE001 - /health must answer even then
                self._controller = None
                return {"name": self._deployment, "status": "UNKNOWN", "replicas": [], "error": str(exc)}
            return replica_states(details, self._app_name, self._deployment)

    return DalleWidgetsEngine
