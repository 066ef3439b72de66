"""``dalle-widgets serve --ray`` on a real local Ray cluster (127.0.0.1 only), as a user runs it.

One cluster for the module: the command runs as a subprocess with 2 CPU replicas of the
classical backend, the tests talk HTTP to it (our client and batch, the official openai
SDK, raw httpx), kill a replica with SIGKILL in the middle of a batch, check with
``ss -ltnp`` that nothing of the cluster listens beyond loopback, and finally stop it
with SIGTERM and check that every process it started is gone.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# The test command installs the ray extra: a missing one fails here, it does not skip.
import psutil
import pytest
import ray
from openai import OpenAI

import dalle_widgets
from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.engine.ray import REPLICA_HEADER, deploy
from dalle_widgets.errors import RateLimitError
from dalle_widgets.store import read_info

pytestmark = [pytest.mark.ray, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ray-test-token-5f1c"


@dataclass
class RayServer:
    proc: subprocess.Popen[str]
    base_url: str
    url: str
    output: list[str] = field(default_factory=list)

    def processes(self) -> list[psutil.Process]:
        """Every process the command started (Ray's GCS, raylet, agents, workers...)."""
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def health(self) -> dict:
        return httpx.get(self.url + "/health", timeout=30).json()


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayServer]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["DALLE_WIDGETS_HOME"] = str(tmp_path_factory.mktemp("server-home"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dalle_widgets", "serve", "--ray", "--replicas", "2", "--port", "0"]
        + ["--token", TOKEN, "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    base_url = None
    assert proc.stdout is not None
    for line in proc.stdout:
        output.append(line)
        found = re.search(r"export OPENAI_BASE_URL=(\S+)", line)
        if found:
            base_url = found.group(1)
        if "Ctrl+C" in line:
            break
    if base_url is None:
        proc.kill()
        pytest.fail("serve --ray did not start:\n" + "".join(output))
    drain = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    drain.start()
    server = RayServer(proc, base_url, base_url.removesuffix("/v1"), output)
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _replica_pids(server: RayServer) -> dict[str, int]:
    """The RUNNING replicas whose process is alive (the controller notices a death a little later)."""
    deployment = server.health()["deployment"]
    return {
        r["id"]: r["pid"]
        for r in deployment["replicas"]
        if r["state"] == "RUNNING"
        and psutil.pid_exists(r["pid"])
        and psutil.Process(r["pid"]).status() != psutil.STATUS_ZOMBIE
    }


def _wait_for_running_replicas(server: RayServer, count: int, timeout: float = 120) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _replica_pids(server)
        if len(pids) >= count:
            return pids
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} replicas RUNNING: {server.health()['deployment']}")


class ReplicaLog:
    """Records, from response headers, which replica answered which request (and the failures)."""

    def __init__(self, kill_after: int | None = None, victim_pid: int | None = None) -> None:
        self.by_request: dict[str, str] = {}
        self.statuses: Counter[int] = Counter()
        self.kill_after = kill_after
        self.victim_pid = victim_pid

    async def __call__(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1
        replica = response.headers.get(REPLICA_HEADER)
        if response.is_success and replica and response.url.path.endswith("/images/generations"):
            self.by_request[response.headers["x-request-id"]] = replica
            if len(self.by_request) == self.kill_after:
                os.kill(self.victim_pid, signal.SIGKILL)  # mid-batch, with requests in flight

    def client_factory(self, server: RayServer):
        def make() -> AsyncImagesClient:
            http = httpx.AsyncClient(timeout=120, event_hooks={"response": [self]})
            return AsyncImagesClient(base_url=server.base_url, api_key=TOKEN, http_client=http)

        return make


def _stored(home: Path) -> list[dict]:
    return [read_info(path.read_bytes()) for path in sorted((home / "images").rglob("*.png"))]


def test_health_lists_both_replicas_and_answers_carry_the_replica(ray_server: RayServer) -> None:
    report = ray_server.health()
    assert report["status"] == "ok" and report["backend"] == "classical"
    replicas = report["deployment"]["replicas"]
    assert len(replicas) == 2 and {r["state"] for r in replicas} == {"RUNNING"}
    assert report["replica"] in {r["id"] for r in replicas}
    assert all(r["node_ip"] == "127.0.0.1" and psutil.pid_exists(r["pid"]) for r in replicas)
    models = httpx.get(ray_server.base_url + "/models", headers={"Authorization": f"Bearer {TOKEN}"})
    assert models.json()["data"][0]["id"] == "dall-e-2"
    assert models.headers[REPLICA_HEADER] in {r["id"] for r in replicas}
    assert len(models.headers.get_list("x-request-id")) == 1  # Serve's id, not two joined


def test_batch_of_40_spreads_over_both_replicas(ray_server: RayServer, isolated_env: Path) -> None:
    log = ReplicaLog()
    prompts = [f"a lighthouse at dusk, variant {i}" for i in range(40)]
    result = dalle_widgets.batch(
        prompts, size="256x256", concurrency=4, client=log.client_factory(ray_server), progress=False
    )
    assert not result.failed and len(result.succeeded) == 40
    stored = _stored(isolated_env)
    assert sorted(info["prompt"] for info in stored) == sorted(prompts)
    served = Counter(log.by_request[info["request_id"]] for info in stored)
    assert set(served) == set(_replica_pids(ray_server)), served
    assert min(served.values()) >= 5, f"the 40 requests were not spread over the 2 replicas: {served}"


def test_openai_sdk_works_against_the_deployment(ray_server: RayServer) -> None:
    sdk = OpenAI(base_url=ray_server.base_url, api_key=TOKEN, max_retries=0)
    raw = sdk.images.with_raw_response.generate(
        model="dall-e-2", prompt="a red kite", n=2, size="256x256", response_format="b64_json"
    )
    images = raw.parse()
    assert len(images.data) == 2
    assert base64.b64decode(images.data[0].b64_json)[:8] == b"\x89PNG\r\n\x1a\n"
    assert raw.headers[REPLICA_HEADER]
    assert "dall-e-2" in [m.id for m in sdk.models.list()]


def test_image_links_resolve_on_every_replica(ray_server: RayServer) -> None:
    """The SDK's default for dall-e-2 is a link; Serve may route its GET to another replica."""
    sdk = OpenAI(base_url=ray_server.base_url, api_key=TOKEN, max_retries=0)
    raw = sdk.images.with_raw_response.generate(model="dall-e-2", prompt="a blue kite", size="256x256")
    made_by = raw.headers[REPLICA_HEADER]
    url = raw.parse().data[0].url
    served_by = set()
    for _ in range(50):  # until a replica other than the one that made it has answered
        got = httpx.get(url, timeout=30)
        assert got.status_code == 200 and got.content[:8] == b"\x89PNG\r\n\x1a\n"
        served_by.add(got.headers[REPLICA_HEADER])
        if served_by - {made_by}:
            break
    assert served_by - {made_by}, f"every download was served by {made_by}"
    gone = httpx.get(url.rsplit("/", 1)[0] + "/" + "A" * 32 + ".png")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_token_body_limit_and_errors_are_the_engines(ray_server: RayServer) -> None:
    url = ray_server.base_url + "/images/generations"
    body = {"model": "dall-e-2", "prompt": "a fox", "size": "256x256"}
    missing = httpx.post(url, json=body)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    assert missing.headers[REPLICA_HEADER]
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    big = httpx.post(
        url, content=b"x" * (11 * 1024 * 1024), headers={**auth, "Content-Type": "application/json"}
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
    bad = httpx.post(url, json={**body, "size": "300x300"}, headers=auth)
    assert bad.status_code == 400 and "300x300" in bad.json()["error"]["message"]
    assert httpx.get(ray_server.base_url + "/nowhere", headers=auth).status_code == 404


def test_killing_a_replica_mid_batch_loses_no_image_and_stores_none_twice(
    ray_server: RayServer, isolated_env: Path
) -> None:
    victim_id, victim_pid = sorted(_wait_for_running_replicas(ray_server, 2).items())[0]
    log = ReplicaLog(kill_after=12, victim_pid=victim_pid)
    prompts = [f"a harbour crane, study {i}" for i in range(40)]
    # 8 in flight = both replicas' capacity (max_ongoing_requests 4 each): when the 12th
    # answer comes, the 7 others in flight are at most 4 on one replica, so 3 or more are
    # on the victim.
    result = dalle_widgets.batch(
        prompts, size="512x512", concurrency=8, client=log.client_factory(ray_server), progress=False
    )
    assert not psutil.pid_exists(victim_pid) or psutil.Process(victim_pid).status() == psutil.STATUS_ZOMBIE
    assert not result.failed, [str(item.error) for item in result.failed]
    stored = _stored(isolated_env)
    assert len(stored) == 40, f"{len(stored)} images stored for 40 prompts"
    assert sorted(info["prompt"] for info in stored) == sorted(prompts)
    assert len({info["request_id"] for info in stored}) == 40
    assert log.statuses[500] >= 1, f"the killed replica failed no request: {log.statuses}"
    served = Counter(log.by_request[info["request_id"]] for info in stored)
    assert served[victim_id] < 40 and sum(served.values()) == 40
    # Serve replaces the replica; the deployment gets back to two.
    replacement = _wait_for_running_replicas(ray_server, 2)
    assert victim_id not in replacement and victim_pid not in replacement.values()


def _listeners(pids: set[int]) -> list[tuple[str, str, int]]:
    """``(protocol, local address, pid)`` of every TCP/UDP socket those processes listen on."""
    found = []
    for proto, flag in (("tcp", "-ltnpH"), ("udp", "-lunpH")):
        out = subprocess.run(["ss", flag], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            cols = line.split()
            for pid in map(int, re.findall(r"pid=(\d+)", line)):
                if pid in pids:
                    found.append((proto, cols[3], pid))
    return found


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host.startswith(("127.", "::ffff:127.")) or host == "::1"


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_nothing_the_cluster_started_listens_beyond_loopback(ray_server: RayServer) -> None:
    procs = {p.pid: p for p in ray_server.processes()} | {
        ray_server.proc.pid: psutil.Process(ray_server.proc.pid)
    }
    listeners = _listeners(set(procs))
    names = Counter(procs[pid].name() for _, _, pid in listeners)
    # The GCS, the raylet, the agents, the Serve proxy, controller and both replicas all listen.
    assert len(listeners) >= 10 and names["raylet"] >= 1 and names["gcs_server"] >= 1, names
    replica_pids = set(_replica_pids(ray_server).values())
    assert sum(1 for _, _, pid in listeners if pid in replica_pids) >= 4  # core worker + Serve gRPC each
    exposed = [(proto, addr, procs[pid].name()) for proto, addr, pid in listeners if not _is_loopback(addr)]
    assert not exposed, f"listening beyond loopback: {exposed}"


def _gcs_address(server: RayServer) -> str:
    """The cluster's GCS address, as its raylet was told it."""
    for proc in server.processes():
        if proc.name() == "raylet":
            for arg in proc.cmdline():
                if arg.startswith("--gcs-address="):
                    return arg.split("=", 1)[1]
    raise AssertionError("no raylet with a --gcs-address among the cluster's processes")


def test_autoscale_adds_a_replica_under_load(ray_server: RayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy(autoscale=(1, 2)): one replica when idle, a second one once requests queue up."""
    if "RAY_AUTH_MODE" not in os.environ:  # deploy() turns it on to send this machine's Ray token
        monkeypatch.setenv("RAY_AUTH_MODE", "unset")
        monkeypatch.delenv("RAY_AUTH_MODE")
    engine = deploy(
        address=_gcs_address(ray_server),
        app_name="autoscaled",
        route_prefix="/auto",
        autoscale=(1, 2),
        # Serve's defaults wait 30 s of sustained load; these react within seconds.
        autoscaling_options={
            "target_ongoing_requests": 1,
            "upscale_delay_s": 0,
            "metrics_interval_s": 0.5,
            "look_back_period_s": 2,
            "downscale_delay_s": 600,
        },
        cpus_per_replica=0,  # the classical replicas at / hold both CPUs of this cluster
        timeout=180,
    )
    try:
        assert len(engine.replicas()) == 1
        stop = threading.Event()
        served_by: Counter[str] = Counter()

        def keep_busy() -> None:
            with httpx.Client(headers={"Authorization": f"Bearer {engine.token}"}, timeout=120) as http:
                while not stop.is_set():
                    answer = http.post(
                        engine.base_url + "/images/generations",
                        json={"prompt": "a busy harbour", "size": "512x512", "response_format": "b64_json"},
                    )
                    assert answer.status_code == 200, answer.text
                    served_by[answer.headers[REPLICA_HEADER]] += 1

        workers = [threading.Thread(target=keep_busy, daemon=True) for _ in range(6)]
        for worker in workers:
            worker.start()
        try:
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                running = [r for r in engine.replicas() if r["state"] == "RUNNING"]
                if len(running) == 2 and len(served_by) == 2:
                    break
                time.sleep(0.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=120)
        assert [r["state"] for r in engine.replicas()].count("RUNNING") == 2, engine.replicas()
        assert len(served_by) == 2, served_by  # the new replica takes a share of the load
    finally:
        engine.shutdown()
    assert ray_server.health()["backend"] == "classical"


def test_a_diffusers_engine_joins_the_running_cluster_beside_it(
    ray_server: RayServer, tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy(address=...) onto a running Ray and Serve: the tiny diffusers pipelines, under /tiny."""
    if "RAY_AUTH_MODE" not in os.environ:  # deploy() turns it on to send this machine's Ray token
        monkeypatch.setenv("RAY_AUTH_MODE", "unset")
        monkeypatch.delenv("RAY_AUTH_MODE")
    engine = deploy(
        "diffusers",
        backend_options={"recipe": str(tiny_recipe)},
        address=_gcs_address(ray_server),
        app_name="tiny-diffusers",
        route_prefix="/tiny",
        cpus_per_replica=0,  # the classical replicas hold both CPUs of this cluster
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}},
        images_per_minute=2,
        timeout=180,
    )
    try:
        assert not engine.owns_ray and engine.base_url == ray_server.url + "/tiny/v1"
        sdk = OpenAI(base_url=engine.base_url, api_key=engine.token, max_retries=0, timeout=120)
        raw = sdk.images.with_raw_response.generate(
            model="dall-e-2", prompt="a watercolor fox", size="256x256", response_format="b64_json"
        )
        assert raw.headers["x-dalle-widgets-engine"] == "diffusers" and raw.headers[REPLICA_HEADER]
        assert base64.b64decode(raw.parse().data[0].b64_json)[:8] == b"\x89PNG\r\n\x1a\n"
        # The replica's rate limit reaches the client through Serve as OpenAI sends it.
        client = ImagesClient(base_url=engine.base_url, api_key=engine.token, max_retries=0)
        with pytest.raises(RateLimitError) as limited:
            client.generate("a second fox", n=2, size="256x256")
        assert limited.value.status_code == 429 and 1 <= limited.value.retry_after <= 60
        health = engine.health()
        assert health["backend"] == "diffusers" and health["deployment"]["replicas"][0]["state"] == "RUNNING"
        assert [r["id"] for r in engine.replicas()] == [health["replica"]]
        # The classical engine at / is untouched.
        assert ray_server.health()["backend"] == "classical"
    finally:
        engine.shutdown()  # deletes this application and disconnects; the cluster runs on
    assert not ray.is_initialized()
    assert ray_server.health()["status"] == "ok"
    assert httpx.get(engine.url + "/health").status_code != 200  # /tiny now falls through to /


def test_sigterm_stops_ray_and_every_process_it_started(ray_server: RayServer) -> None:
    started = ray_server.processes()
    assert any(p.name() == "raylet" for p in started)
    ray_server.proc.send_signal(signal.SIGTERM)
    assert ray_server.proc.wait(timeout=90) == 0, "".join(ray_server.output[-30:])
    _, alive = psutil.wait_procs(started, timeout=30)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"still running after SIGTERM: {[(p.pid, p.name()) for p in alive]}"
    assert "stopping: shutting down Ray Serve and Ray" in "".join(ray_server.output)
    with pytest.raises(httpx.ConnectError):
        httpx.get(ray_server.url + "/health", timeout=5)
