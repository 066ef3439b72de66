"""The Ray Serve face without a cluster: options, the replica stamp, the loopback hook, the watchdog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import ray
from starlette.testclient import TestClient

from dalle_widgets.engine._ray_loopback import _loopback_address, confine_serve_grpc, local_ray_env
from dalle_widgets.engine._ray_replica import REPLICA_HEADER, MirroredURLs, ReplicaStamp
from dalle_widgets.engine.app import create_app
from dalle_widgets.engine.backends import get_backend
from dalle_widgets.engine.ray import deploy, parse_autoscale

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "dalle_widgets", "serve", *args], capture_output=True, text=True, env=env
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicas", "2"], "--replicas need --ray"),
        (["--gpus-per-replica", "1"], "need --ray"),
        (["--ray", "--autoscale", "4:1"], "autoscale '4:1': MIN must not exceed MAX"),
        (["--ray", "--autoscale", "lots"], "autoscale 'lots': use MIN:MAX replicas"),
        (["--ray", "--replicas", "2", "--autoscale", "1:2"], "not allowed with argument"),
        (["--ray", "--replicas", "0"], "replicas=0: use 1 or more"),
        (["--ray", "--backend", "nope"], "unknown engine backend 'nope'"),
        (["--ray", "--backend-option", "novalue"], "backend option 'novalue': use KEY=VALUE"),
    ],
)
def test_serve_ray_refuses_bad_options_before_starting_anything(args: list[str], message: str) -> None:
    done = _run(*args, "--port", "0")
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_deploy_checks_its_options_before_starting_ray() -> None:
    with pytest.raises(ValueError, match="not both"):
        deploy(replicas=2, autoscale=(1, 2))
    with pytest.raises(ValueError, match=r"autoscale=\(3, 1\)"):
        deploy(autoscale=(3, 1))
    with pytest.raises(ValueError, match="max_ongoing_requests=0"):
        deploy(max_ongoing_requests=0)
    assert parse_autoscale("0:3") == (0, 3)
    with pytest.raises(ValueError, match="autoscaling_options need autoscale"):
        deploy(autoscaling_options={"upscale_delay_s": 1})
    with pytest.raises(ValueError, match=r"unknown \['upscale_delay'\]; Serve knows .*'upscale_delay_s'"):
        deploy(autoscale=(1, 2), autoscaling_options={"upscale_delay": 1})
    with pytest.raises(ValueError, match="upscale_delay_s: Input should be greater than or equal to 0"):
        deploy(autoscale=(1, 2), autoscaling_options={"upscale_delay_s": -1})
    assert not ray.is_initialized()


def test_backend_options_reach_the_backend_constructor() -> None:
    with pytest.raises(
        ValueError, match=r"'classical' engine backend does not take steps \(it takes no options\)"
    ):
        get_backend("classical", steps=4)

    class Recipe:
        name = "recipe"

        def __init__(self, *, recipe: str = "tiny", steps: int = 2) -> None:
            self.recipe, self.steps = recipe, steps

    from dalle_widgets.engine import backends

    backends._BUILTIN["recipe-test"] = f"{__name__}:Recipe"
    globals()["Recipe"] = Recipe
    try:
        built = get_backend("recipe-test", recipe="sd-turbo", steps=4)
        assert (built.recipe, built.steps) == ("sd-turbo", 4)
        with pytest.raises(ValueError, match=r"does not take stpes \(it takes recipe, steps\)"):
            get_backend("recipe-test", stpes=4)
        with pytest.raises(ValueError, match="does not take stpes"):
            deploy("recipe-test", backend_options={"stpes": 4})  # refused before Ray starts
    finally:
        del backends._BUILTIN["recipe-test"]
    with pytest.raises(ValueError, match="apply to a backend given by name"):
        get_backend(get_backend("classical"), steps=4)


async def _replicas() -> dict:
    return {"name": "engine", "status": "HEALTHY", "replicas": [{"id": "r1", "state": "RUNNING"}]}


def test_replica_stamp_names_the_replica_on_every_answer_and_lists_replicas_in_health() -> None:
    app = ReplicaStamp(create_app(token="t"), "r1", _replicas)
    with TestClient(app) as http:
        ok = http.get("/v1/models", headers={"Authorization": "Bearer t"})
        refused = http.get("/v1/models")
        health = http.get("/health")
    assert ok.status_code == 200 and ok.headers[REPLICA_HEADER] == "r1"
    assert refused.status_code == 401 and refused.headers[REPLICA_HEADER] == "r1"
    # Serve's proxy adds its own x-request-id; the engine's is dropped so there is one.
    assert "x-request-id" not in ok.headers
    report = health.json()
    assert report["status"] == "ok" and report["replica"] == "r1"
    assert report["deployment"]["replicas"] == [{"id": "r1", "state": "RUNNING"}]
    assert int(health.headers["content-length"]) == len(health.content)


class FakeMirror:
    """Stands in for the mirror actor's handle: ``.put.remote`` / ``.get.remote`` are awaitable."""

    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}
        mirror = self

        class Method:
            def __init__(self, fn) -> None:  # noqa: ANN001
                self.fn = fn

            def remote(self, *args: object):  # noqa: ANN202
                async def call() -> object:
                    return self.fn(*args)

                return call()

        self.put = Method(lambda key, png: mirror.images.__setitem__(key, png))
        self.get = Method(lambda key: mirror.images.get(key))


def test_image_links_of_one_replica_are_served_by_another() -> None:
    mirror = FakeMirror()
    apps = []
    for name in ("r1", "r2"):
        app = create_app(token="t")
        urls = MirroredURLs(mirror, ttl=60)
        app.state.engine.urls = urls
        apps.append(ReplicaStamp(app, name, _replicas, urls))
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        made = one.post(
            "/v1/images/generations",
            json={"prompt": "a kite", "size": "256x256", "response_format": "url"},
            headers={"Authorization": "Bearer t"},
        )
        path = "/" + made.json()["data"][0]["url"].split("/", 3)[3]
        assert len(mirror.images) == 1  # copied before the answer finished
        there = two.get(path)
        here = one.get(path)
        missing = two.get("/images/" + "A" * 32 + ".png")
    assert there.status_code == 200 and there.headers[REPLICA_HEADER] == "r2"
    assert there.content == here.content and there.content[:4] == b"\x89PNG"
    assert missing.status_code == 404 and missing.headers[REPLICA_HEADER] == "r2"


def test_loopback_hook_rewrites_only_the_wildcard_bind() -> None:
    assert _loopback_address("[::]:0") == "127.0.0.1:0"
    assert _loopback_address("0.0.0.0:9000") == "127.0.0.1:9000"
    assert _loopback_address("10.1.2.3:9000") == "10.1.2.3:9000"
    from ray.serve._private import replica

    original = replica.add_port_to_grpc_server
    try:
        confine_serve_grpc()
        confine_serve_grpc()  # idempotent: wraps once
        wrapped = replica.add_port_to_grpc_server
        assert wrapped is not original and getattr(wrapped, "dalle_widgets_loopback", False)

        class Server:
            def add_insecure_port(self, address: str) -> int:
                self.address = address
                return 1234

        server = Server()
        assert wrapped(server, "[::]:0") == 1234 and server.address == "127.0.0.1:0"
    finally:
        replica.add_port_to_grpc_server = original


def test_local_ray_env_is_restored() -> None:
    before = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    with local_ray_env():
        assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    assert os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") == before


def test_watchdog_stops_what_a_sigkilled_server_left_running(tmp_path: Path) -> None:
    """The parent starts the watchdog and a grandchild, then dies by SIGKILL: the grandchild goes too."""
    pid_file = tmp_path / "grandchild.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import subprocess, sys, time
                from dalle_widgets.engine._ray_reaper import start_reaper
                start_reaper()
                child = subprocess.Popen([sys.executable, "-c",
                    "import subprocess, sys; subprocess.Popen(['sleep', '300']).wait()"])
                time.sleep(0.5)
                import psutil
                grandchild = psutil.Process(child.pid).children()[0]
                open({str(pid_file)!r}, "w").write(str(grandchild.pid))
                time.sleep(300)
                """
            ),
        ],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    import psutil

    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.1)
    grandchild = psutil.Process(int(pid_file.read_text()))
    time.sleep(1.5)  # the watchdog notes the tree once a second
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    gone, alive = psutil.wait_procs([grandchild], timeout=20)
    assert gone and not alive, "the watchdog left the grandchild running"


def test_deploy_says_how_to_install_ray_when_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    from dalle_widgets.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"pip install 'dalle-widgets\[ray\]'"):
        deploy()


def test_under_a_route_prefix_health_stays_public_and_links_carry_the_prefix() -> None:
    """Serve passes a route prefix (``/tiny``) as ``root_path`` and leaves it in ``path``."""
    app = ReplicaStamp(create_app(token="t"), "r1", _replicas)
    with TestClient(app, root_path="/tiny") as http:
        health = http.get("/tiny/health")
        made = http.post(
            "/tiny/v1/images/generations",
            json={"prompt": "a kite", "size": "256x256", "response_format": "url"},
            headers={"Authorization": "Bearer t"},
        )
        refused = http.get("/tiny/v1/models")
        link = made.json()["data"][0]["url"]
        image = http.get(link.split("testserver", 1)[1])
    assert health.status_code == 200 and health.json()["replica"] == "r1"
    assert refused.status_code == 401
    assert "/tiny/images/" in link and image.status_code == 200 and image.content[:4] == b"\x89PNG"


def test_a_ray_that_keeps_timing_out_is_one_clear_error_and_leaves_nothing() -> None:
    from dalle_widgets.engine.ray import _start_local_ray
    from dalle_widgets.errors import ConfigurationError

    class SlowRay:
        inits = shutdowns = 0

        def init(self, **kwargs: object) -> None:
            self.inits += 1
            raise Exception("The current node timed out during startup. This could happen ...")

        def shutdown(self) -> None:
            self.shutdowns += 1

    slow = SlowRay()
    with pytest.raises(ConfigurationError, match="missed Ray's 30 s to register 3 times"):
        _start_local_ray(slow, None)
    assert slow.inits == 3 and slow.shutdowns == 3
