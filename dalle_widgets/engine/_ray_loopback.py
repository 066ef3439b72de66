"""Keep a Ray started for local use on 127.0.0.1: its settings, and a worker setup hook.

Out of the box a local Ray (2.60) listens on every interface and on the machine's own
address: it takes the address it would show other nodes as its node address, its C++
gRPC servers (GCS, raylet, every worker) bind all interfaces unless that node address
is loopback, the dashboard agent and the runtime-env agent bind the node address, and
every Serve replica opens an inter-deployment gRPC server on ``[::]:0``, a literal in
``ray.serve._private.replica``. Three things confine it:

* ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` in the environment of every Ray process:
  with it Ray resolves "this node's address" to loopback, as it does on a laptop
  running macOS, instead of asking the routing table (``127.0.0.1`` passed as
  ``_node_ip_address`` alone is rewritten to the machine's address);
* ``ray.init(_node_ip_address="127.0.0.1", dashboard_host="127.0.0.1", ...)``;
* :func:`confine_serve_grpc`, run in every worker of the job as Ray's
  ``worker_process_setup_hook``, which binds the replicas' gRPC server to loopback.

``tests/test_ray_serve.py`` checks with ``ss -ltnp`` that no process of the cluster
listens anywhere else.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LOOPBACK", "SETUP_HOOK", "confine_serve_grpc", "local_ray_env", "local_ray_init_options"]

LOOPBACK = "127.0.0.1"
#: Import path of the worker setup hook (a string, so no function is pickled to the GCS).
SETUP_HOOK = "dalle_widgets.engine._ray_loopback.confine_serve_grpc"
_LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_WILDCARDS = ("[::]", "::", "0.0.0.0", "")


def _loopback_address(address: str) -> str:
    """``[::]:0`` -> ``127.0.0.1:0``; any specific address is left alone.

    >>> _loopback_address("[::]:0"), _loopback_address("10.0.0.5:9000")
    ('127.0.0.1:0', '10.0.0.5:9000')
    """
    host, _, port = address.rpartition(":")
    return f"{LOOPBACK}:{port}" if host in _WILDCARDS else address


def confine_serve_grpc() -> None:
    """Worker setup hook: Serve replicas bind their inter-deployment gRPC server to loopback.

    Replicas call ``add_port_to_grpc_server(server, "[::]:0")`` when they start; the
    hook wraps that module-level name so the wildcard becomes ``127.0.0.1``. Peers
    reach a replica at its node address, which is loopback on such a cluster.
    Idempotent; does nothing where Ray Serve is not installed.
    """
    try:
        from ray.serve._private import replica
    except ImportError:  # pragma: no cover - a worker without Serve has no such server
        return
    original: Callable[[Any, str], int] = replica.add_port_to_grpc_server
    if getattr(original, "dalle_widgets_loopback", False):
        return

    def add_port_on_loopback(server: Any, address: str) -> int:
        return original(server, _loopback_address(address))

    add_port_on_loopback.dalle_widgets_loopback = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = add_port_on_loopback


def local_ray_init_options() -> dict[str, Any]:
    """The ``ray.init`` arguments that start a Ray on 127.0.0.1 only (no dashboard)."""
    return {
        "_node_ip_address": LOOPBACK,
        "include_dashboard": False,
        "dashboard_host": LOOPBACK,
        "runtime_env": {"worker_process_setup_hook": SETUP_HOOK},
    }


@contextmanager
def local_ray_env() -> Iterator[None]:
    """While starting a local Ray: its processes resolve "this node" to loopback.

    The variable is read by every Ray process when it imports Ray, so it must be in the
    environment they inherit. This process may have imported Ray already (a notebook),
    so its copy of the flag is set too; both are restored on exit, which leaves a later
    ``ray.init(address=...)`` in the same process free to join a real cluster.
    """
    saved = os.environ.get(_LOCAL_ONLY_ENV)
    os.environ[_LOCAL_ONLY_ENV] = "0"
    constants: Any = sys.modules.get("ray._private.ray_constants")
    saved_flag = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(_LOCAL_ONLY_ENV, None)
        else:
            os.environ[_LOCAL_ONLY_ENV] = saved
        if constants is not None and saved_flag is not None:
            constants.ENABLE_RAY_CLUSTER = saved_flag
