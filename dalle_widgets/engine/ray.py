"""The offline engine on Ray Serve: replicas of the same app behind Ray's HTTP proxy.

:func:`deploy` runs the engine's ASGI app (:func:`~dalle_widgets.engine.create_app`:
the same OpenAI routes, token, body limits and errors) as a Ray Serve deployment of
``replicas`` copies, or between ``autoscale=(min, max)`` copies, each with its own
backend (``classical``, or any registered backend with its options). With no
``address`` it starts a Ray of its own on 127.0.0.1 only and stops it again on
:meth:`RayEngine.shutdown`; with ``address="auto"`` or ``"ray://host:10001"`` it
deploys onto a running cluster and leaves the cluster running.

Every response carries ``x-dalle-widgets-replica``, the replica that served it, and
``GET /health`` lists the replicas and their states. Needs ``pip install
'dalle-widgets[ray]'``. ``dalle-widgets serve --ray`` is the command-line face.

>>> engine = deploy(replicas=2)                                  # doctest: +SKIP
>>> client = ImagesClient(base_url=engine.base_url, api_key=engine.token)  # doctest: +SKIP
>>> engine.shutdown()                                            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import ConfigurationError
from ._ray_loopback import LOOPBACK, local_ray_env, local_ray_init_options
from ._ray_replica import REPLICA_HEADER, ImageURLMirror, deployment_class, replica_states
from .app import DEFAULT_MAX_BODY_BYTES
from .backends import backend_factory, check_options

__all__ = ["APP_NAME", "DEPLOYMENT_NAME", "REPLICA_HEADER", "RayEngine", "deploy", "parse_autoscale"]

logger = logging.getLogger("dalle_widgets")

APP_NAME = "dalle-widgets"
DEPLOYMENT_NAME = "engine"
INSTALL_HINT = "pip install 'dalle-widgets[ray]'"
#: How often Serve's controller checks each replica (Serve's default is 10 s): a replica
#: that died is replaced this much sooner. Serve's proxy stops routing to it at once.
HEALTH_CHECK_PERIOD_S = 2.0
#: Where the application's image-link mirror (a Ray actor) is registered.
MIRROR_NAMESPACE = "dalle-widgets"
URL_TTL_S = 3600.0


def parse_autoscale(text: str) -> tuple[int, int]:
    """``"MIN:MAX"`` -> ``(MIN, MAX)``, with a message that names the value when it is wrong.

    >>> parse_autoscale("1:4")
    (1, 4)
    >>> parse_autoscale("4:1")
    Traceback (most recent call last):
    ...
    ValueError: autoscale '4:1': MIN must not exceed MAX (e.g. 1:4)
    """
    lo, sep, hi = text.partition(":")
    try:
        low, high = int(lo), int(hi)
    except ValueError:
        low = high = -1
    if not sep or low < 0 or high < 1:
        raise ValueError(f"autoscale {text!r}: use MIN:MAX replicas, e.g. 1:4 (MIN >= 0, MAX >= 1)")
    if low > high:
        raise ValueError(f"autoscale {text!r}: MIN must not exceed MAX (e.g. 1:4)")
    return low, high


def _mirror_name(app_name: str) -> str:
    """The Ray actor name of an application's image-link mirror."""
    return f"{app_name}:image-urls"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _import_ray() -> tuple[Any, Any]:
    try:
        import ray
        from ray import serve
    except ImportError as exc:
        raise ConfigurationError(
            f"the offline engine on Ray Serve needs Ray Serve ({exc}): {INSTALL_HINT}"
        ) from None
    return ray, serve


class RayEngine:
    """The engine deployed on Ray Serve: ``.base_url``, ``.token``, ``.replicas()``, ``.shutdown()``.

    Returned by :func:`deploy`; a context manager that shuts down on exit.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        token: str | None,
        app_name: str,
        owns_ray: bool,
        route_prefix: str = "/",
        connected: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.app_name = app_name
        self.route_prefix = route_prefix.rstrip("/")
        self.owns_ray = owns_ray
        self.connected = connected or owns_ray
        self._stopped = False

    @property
    def url(self) -> str:
        """The application's root (``/health`` lives there)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.route_prefix}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ending in ``/v1``."""
        return self.url + "/v1"

    def replicas(self) -> list[dict[str, Any]]:
        """The deployment's replicas as the Serve controller sees them: id, state, pid, node_ip."""
        _import_ray()
        from ray.serve.context import _get_global_client

        details = _get_global_client().get_serve_details()
        return replica_states(details, self.app_name, DEPLOYMENT_NAME)["replicas"]

    def health(self, timeout: float = 10.0) -> dict[str, Any]:
        """``GET /health`` through the Serve proxy (one replica answers, naming all)."""
        return httpx.get(self.url + "/health", timeout=timeout).json()

    def shutdown(self) -> None:
        """Delete the deployment; stop Serve and Ray too if :func:`deploy` started them (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        ray, serve = _import_ray()
        if not ray.is_initialized():
            return
        try:
            if self.owns_ray:
                serve.shutdown()
            else:
                serve.delete(self.app_name)
                try:
                    ray.kill(ray.get_actor(_mirror_name(self.app_name), namespace=MIRROR_NAMESPACE))
                except ValueError:  # already gone
                    pass
        finally:
            if self.connected:  # stops a Ray we started; only disconnects from a cluster we joined
                ray.shutdown()
        logger.info("offline engine on Ray Serve stopped (%s)", self.url)

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "deployed"
        return f"<RayEngine {self.base_url} app={self.app_name!r} {state}>"  # never the token


def deploy(
    backend: str = "classical",
    *,
    backend_options: Mapping[str, Any] | None = None,
    token: str | None = None,
    replicas: int | None = None,
    autoscale: tuple[int, int] | None = None,
    autoscaling_options: Mapping[str, Any] | None = None,
    gpus_per_replica: float = 0.0,
    cpus_per_replica: float = 1.0,
    max_ongoing_requests: int = 4,
    address: str | None = None,
    host: str = LOOPBACK,
    port: int = 8000,
    images_per_minute: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    app_name: str = APP_NAME,
    route_prefix: str = "/",
    runtime_env: Mapping[str, Any] | None = None,
    num_cpus: int | None = None,
    timeout: float = 120.0,
) -> RayEngine:
    """Deploy the offline engine on Ray Serve and wait until it answers.

    Parameters
    ----------
    backend : str
        A registered backend name (``classical``, ``diffusers``...). Each replica
        builds its own.
    backend_options : mapping, optional
        Keyword arguments for the backend's constructor (a model backend's recipe...),
        passed as they are.
    token : str, optional
        Bearer token clients must send; default a random one (``.token``).
    replicas : int, optional
        A fixed number of replicas (default 1). Exclusive with ``autoscale``.
    autoscale : (int, int), optional
        Let Serve scale between ``min`` and ``max`` replicas on load.
    autoscaling_options : mapping, optional
        More fields of Serve's ``AutoscalingConfig`` for ``autoscale`` (for example
        ``{"target_ongoing_requests": 1, "upscale_delay_s": 5}``; Serve's defaults wait
        30 s of sustained load before adding a replica). Checked before anything starts.
    gpus_per_replica : float
        GPUs each replica reserves (fractions share a GPU).
    cpus_per_replica : float
        CPUs each replica reserves (default 1).
    max_ongoing_requests : int
        Requests a replica takes at once; more wait in Serve's queue.
    address : str, optional
        None starts a local Ray on 127.0.0.1 only; ``"auto"`` joins the Ray started
        on this machine (``ray start``); ``"ray://host:10001"`` a remote cluster.
    host, port : str, int
        Where Serve's HTTP proxy listens when this call starts Serve (default
        127.0.0.1:8000; port 0 picks a free one). A running Serve keeps its own.
    images_per_minute : int, optional
        Per-replica rate limit (429 with ``Retry-After``), as in ``create_app``.
    max_body_bytes : int
        Larger request bodies get 413.
    app_name : str
        The Serve application's name (one deployment, ``engine``).
    route_prefix : str
        Where the application answers on Serve's proxy (default ``/``: the base URL
        is ``http://HOST:PORT/v1``); another prefix lets several engines (say, two
        backends) share one Serve.
    runtime_env : mapping, optional
        Ray runtime environment for the replicas (a remote cluster may need
        ``{"pip": ["dalle-widgets"]}``).
    num_cpus : int, optional
        CPUs of a local Ray (default: all of this machine's).
    timeout : float
        Seconds to wait for the replicas to answer.

    Returns
    -------
    RayEngine

    Raises
    ------
    ValueError
        For bad scaling options or an unknown backend, before anything starts.
    ConfigurationError
        When Ray Serve is not installed or the deployment does not come up.
    """
    if replicas is not None and autoscale is not None:
        raise ValueError("give replicas=N or autoscale=(MIN, MAX), not both")
    if replicas is not None and replicas < 1:
        raise ValueError(f"replicas={replicas}: use 1 or more")
    if autoscale is not None:
        low, high = autoscale
        if low < 0 or high < 1 or low > high:
            raise ValueError(f"autoscale={autoscale!r}: use (MIN, MAX) with 0 <= MIN <= MAX, MAX >= 1")
    if gpus_per_replica < 0 or cpus_per_replica < 0:
        raise ValueError("gpus_per_replica and cpus_per_replica must be 0 or more")
    if max_ongoing_requests < 1:
        raise ValueError(f"max_ongoing_requests={max_ongoing_requests}: use 1 or more")
    check_options(backend, backend_factory(backend), dict(backend_options or {}))
    if autoscaling_options and autoscale is None:
        raise ValueError("autoscaling_options need autoscale=(MIN, MAX)")
    if not route_prefix.startswith("/"):
        raise ValueError(f"route_prefix={route_prefix!r}: start it with '/', e.g. '/diffusers'")
    ray, serve = _import_ray()
    scaling: dict[str, Any] = (
        {"autoscaling_config": _autoscaling_config(autoscale, autoscaling_options or {})}
        if autoscale is not None
        else {"num_replicas": replicas or 1}
    )
    token = token or secrets.token_urlsafe(24)
    owns_ray = connected = False
    if not ray.is_initialized():
        connected = True
        if address is None:
            _start_local_ray(ray, num_cpus)
            owns_ray = True
        elif _on_loopback(address):
            # A cluster on this machine's loopback (one that deploy() or `ray start
            # --node-ip-address 127.0.0.1` started): this driver must call itself
            # 127.0.0.1 too, or Ray waits for a raylet at the machine's address.
            _local_cluster_auth()
            with local_ray_env():
                ray.init(address=address, _node_ip_address=LOOPBACK, logging_level=logging.WARNING)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    try:
        if port == 0:
            port = _free_port(host)
        serve.start(http_options={"host": host, "port": port})
        actor_options: dict[str, Any] = {"num_cpus": cpus_per_replica, "num_gpus": gpus_per_replica}
        if runtime_env:
            actor_options["runtime_env"] = dict(runtime_env)
        deployment = serve.deployment(
            deployment_class(serve),
            name=DEPLOYMENT_NAME,
            ray_actor_options=actor_options,
            max_ongoing_requests=max_ongoing_requests,
            health_check_period_s=HEALTH_CHECK_PERIOD_S,
            **scaling,
        )
        mirror = (_mirror_name(app_name), MIRROR_NAMESPACE)
        ray.remote(ImageURLMirror).options(
            name=mirror[0], namespace=mirror[1], lifetime="detached", num_cpus=0, get_if_exists=True
        ).remote(URL_TTL_S)
        app_options = {
            "token": token,
            "max_body_bytes": max_body_bytes,
            "images_per_minute": images_per_minute,
            "url_ttl": URL_TTL_S,
        }
        bound = deployment.bind(backend, dict(backend_options or {}), app_options, mirror)
        serve.run(bound, name=app_name, route_prefix=route_prefix, blocking=False)
        from ray.serve.context import _get_global_client

        http = _get_global_client().get_serve_details().get("http_options") or {}
        engine = RayEngine(
            host=http.get("host") or host,
            port=int(http.get("port") or port),
            token=token,
            app_name=app_name,
            owns_ray=owns_ray,
            route_prefix=route_prefix,
            connected=connected,
        )
        _wait_until_serving(engine, serve, timeout)
    except BaseException:
        if owns_ray:
            serve.shutdown()
        if connected:
            ray.shutdown()
        raise
    logger.info("offline engine on Ray Serve at %s (backend %s)", engine.base_url, backend)
    return engine


def _autoscaling_config(autoscale: tuple[int, int], options: Mapping[str, Any]) -> dict[str, Any]:
    """Serve's autoscaling config for ``autoscale`` plus ``options``, checked by Serve's own model.

    Raises ValueError naming the bad field (and the known ones) instead of pydantic's report.
    """
    from ray.serve.config import AutoscalingConfig

    known = set(AutoscalingConfig.model_fields) - {"min_replicas", "max_replicas"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"autoscaling_options: unknown {unknown}; Serve knows {sorted(known)}")
    config = {"min_replicas": autoscale[0], "max_replicas": autoscale[1], **options}
    try:
        AutoscalingConfig(**config)
    except Exception as exc:  # pydantic's ValidationError, whichever pydantic Ray uses
        problems = exc.errors() if callable(getattr(exc, "errors", None)) else []  # type: ignore[attr-defined]
        said = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems) or str(exc)
        raise ValueError(f"autoscaling_options {dict(options)!r}: {said}") from None
    return config


def _on_loopback(address: str) -> bool:
    """Whether a Ray address (``host:port``, or ``auto``: the latest Ray started here) is on loopback.

    >>> _on_loopback("127.0.0.1:6379"), _on_loopback("10.0.0.2:6379"), _on_loopback("ray://127.0.0.1:10001")
    (True, False, False)
    """
    if address.startswith("ray://"):
        return False  # Ray Client: this process is no node of the cluster
    if address == "auto":
        try:
            from ray._private.services import canonicalize_bootstrap_address

            address = canonicalize_bootstrap_address("auto") or ""
        except Exception:  # noqa: BLE001 - Ray's own error is clearer, let ray.init raise it
            return False
    host = address.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host in ("localhost", "::1")


def _local_cluster_auth() -> None:
    """Send this machine's Ray token when joining a cluster on loopback, as ``address="auto"`` does.

    Ray 2.60 starts local clusters with token authentication and, for ``auto``, sends
    the token it finds in ``~/.ray/auth_token``; for an explicit address it sends none
    unless ``RAY_AUTH_MODE=token`` is set. A cluster on 127.0.0.1 is a local one, so
    Ray's own rule for local clusters applies (an explicit ``RAY_AUTH_MODE`` wins).
    """
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # pragma: no cover - a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _start_local_ray(ray: Any, num_cpus: int | None, attempts: int = 3) -> None:
    """``ray.init`` on loopback; again (up to ``attempts`` times) if the raylet was too slow to register.

    Ray gives its raylet a fixed 30 s to register with the GCS and raises otherwise,
    which a machine busy with other work can exceed.

    Raises
    ------
    ConfigurationError
        When every attempt timed out (what is left of Ray is stopped first).
    """
    for attempt in range(1, attempts + 1):
        try:
            with local_ray_env():
                ray.init(num_cpus=num_cpus, **local_ray_init_options(), logging_level=logging.WARNING)
            return
        except Exception as exc:
            if "timed out during startup" not in str(exc):
                raise
            ray.shutdown()
            if attempt == attempts:
                raise ConfigurationError(
                    f"Ray did not start on this machine: its raylet missed Ray's 30 s to register "
                    f"{attempts} times (the machine is too busy); try again when it is less loaded"
                ) from None
            logger.warning("Ray's raylet was slow to start (%s); starting Ray again", exc)


def _wait_until_serving(engine: RayEngine, serve: Any, timeout: float) -> None:
    """Poll ``/health`` until the app answers 200 (Serve answers 404/503 while deploying).

    A replica that fails to start (a backend that cannot load its model...) fails the
    application: that is reported at once, with Serve's message, not after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        app = serve.status().applications.get(engine.app_name)
        if app is not None and str(getattr(app.status, "value", app.status)) == "DEPLOY_FAILED":
            raise ConfigurationError(
                f"the offline engine's replicas failed to start on Ray Serve: {app.message}"
            )
        try:
            response = httpx.get(engine.url + "/health", timeout=5)
            if response.status_code == 200 and response.headers.get(REPLICA_HEADER):
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.25)
    raise ConfigurationError(
        f"the offline engine on Ray Serve did not answer at {engine.url}/health "
        f"within {timeout:.0f} s ({last})"
    )
