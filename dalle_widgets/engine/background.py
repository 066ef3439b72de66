"""Run the engine in this process: a uvicorn server on a free loopback port, in a daemon thread.

``start_background()`` is what the client calls when no API key is configured. It is
idempotent per process (a second call returns the running engine), binds
``127.0.0.1`` only, makes a random token, and stops cleanly at interpreter exit.
Its backend is ``classical`` unless ``DALLE_WIDGETS_ENGINE_BACKEND`` names another
(``diffusers`` runs a real model; see the "Run a real model" page).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
from typing import Any

from ..errors import ConfigurationError

__all__ = ["BackgroundEngine", "start_background", "stop_background"]

logger = logging.getLogger("dalle_widgets")

_lock = threading.Lock()
_current: BackgroundEngine | None = None
#: Names the background engine's backend when start_background() is given none.
BACKEND_ENV = "DALLE_WIDGETS_ENGINE_BACKEND"


class BackgroundEngine:
    """A running engine: ``.base_url`` (``http://127.0.0.1:PORT/v1``), ``.token``, ``.stop()``.

    Use :meth:`start` to run a private engine (tests, notebooks that want their own),
    or :func:`start_background` for the process-wide one.
    """

    def __init__(
        self,
        server: Any,
        thread: threading.Thread,
        host: str,
        port: int,
        token: str | None,
        backend_name: str,
        client_timeout: float | None = None,
    ) -> None:
        self._server = server
        self._thread = thread
        #: the listening socket, closed by stop() (set by the constructor that bound it)
        self._sock: socket.socket | None = None
        self.host = host
        self.port = port
        self.token = token
        self.backend = backend_name
        #: Read timeout (seconds) clients of this engine should use; None for the default.
        #: A model backend on a CPU takes minutes per image.
        self.client_timeout = client_timeout

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ending in ``/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def url(self) -> str:
        """The server root (``/health`` lives there)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._server.should_exit

    @classmethod
    def start(
        cls,
        *,
        token: str | None = None,
        backend: Any = None,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 30.0,
        header_timeout: float | None = None,
        body_timeout: float | None = None,
        **app_kwargs: Any,
    ) -> BackgroundEngine:
        """Start a new engine in a daemon thread and wait until it accepts connections.

        ``header_timeout`` and ``body_timeout`` (seconds; None for the defaults of
        :mod:`._deadlines`, 10 and 60) close connections that do not deliver a request's
        head or body in time. Other keyword arguments go to :func:`.app.create_app`.

        Raises
        ------
        ConfigurationError
            If the server cannot bind or does not come up within ``timeout`` seconds.
        """
        # Imported here, not at module level: uvicorn and starlette are core dependencies,
        # but a kernel that never starts the engine should not pay for importing them.
        import uvicorn

        from ._deadlines import server_config
        from .app import create_app
        from .backends import get_backend

        image_backend = get_backend(backend)
        app_kwargs.setdefault("max_concurrency", getattr(image_backend, "max_concurrency", 2))
        app = create_app(image_backend, token=token, **app_kwargs)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ConfigurationError(f"the offline engine could not bind {host}:{port}: {exc}") from exc
        bound_port = sock.getsockname()[1]
        deadlines = {"header_timeout": header_timeout, "body_timeout": body_timeout}
        config = server_config(
            app,
            **{k: t for k, t in deadlines.items() if t is not None},
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"dalle-widgets-engine-{bound_port}",
            daemon=True,
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise ConfigurationError(
                    f"the offline engine did not start on {host}:{bound_port} within {timeout:.0f} s"
                )
            time.sleep(0.01)
        engine = cls(
            server,
            thread,
            host,
            bound_port,
            app.state.token,
            app.state.engine.backend.name,
            getattr(image_backend, "client_timeout", None),
        )
        engine._sock = sock
        atexit.register(engine.stop)
        logger.debug("offline engine started at %s (backend %s)", engine.base_url, engine.backend)
        return engine

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the server to exit and wait for its thread (idempotent)."""
        self._server.should_exit = True
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BackgroundEngine {self.base_url} backend={self.backend!r} {state}>"  # never the token


def start_background(*, token: str | None = None, backend: Any = None) -> BackgroundEngine:
    """Start the process-wide offline engine, or return it if it is already running.

    Parameters
    ----------
    token : str or None
        Bearer token to require; None makes a random one (``.token``).
    backend : str, ImageBackend or None
        The backend for a *new* engine; ignored when one is already running. None
        reads ``DALLE_WIDGETS_ENGINE_BACKEND`` (e.g. ``diffusers``), else ``classical``.

    Returns
    -------
    BackgroundEngine
        With ``.base_url`` like ``http://127.0.0.1:PORT/v1`` and ``.token``.

    Examples
    --------
    >>> engine = start_background()
    >>> engine.base_url.startswith("http://127.0.0.1:") and engine is start_background()
    True
    """
    global _current
    with _lock:
        if _current is not None and _current.running:
            return _current
        if backend is None:
            backend = os.environ.get(BACKEND_ENV, "").strip() or None
        _current = BackgroundEngine.start(token=token, backend=backend)
        return _current


def stop_background() -> None:
    """Stop the process-wide engine if one runs (the next start_background() starts a new one)."""
    global _current
    with _lock:
        if _current is not None:
            _current.stop()
            _current = None
