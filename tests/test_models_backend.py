"""The diffusers backend on tiny random Kandinsky pipelines: recipes, loading, the three operations.

The pipelines are built in code and saved to disk once per session (``tiny_recipe``);
every test loads them through the backend's real loading path with the network blocked
and the hub offline. Arrays in, arrays out: the HTTP side is in test_models_http.py.
"""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from dalle_widgets.engine.backends import available_backends, get_backend
from dalle_widgets.engine.backends.diffusers import DiffusersBackend
from dalle_widgets.engine.backends.diffusers.compose import FEATHER_PX
from dalle_widgets.engine.backends.diffusers.recipe import default_recipe, load_recipe, parse_recipe
from dalle_widgets.engine.backends.errors import (
    BackendBusy,
    BackendUnavailable,
    GenerationCancelled,
    OutOfResources,
    RecipeError,
)
from dalle_widgets.engine.backends.progress import Progress

pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture(scope="module")
def backend(tiny_recipe: Path) -> DiffusersBackend:
    return DiffusersBackend(tiny_recipe)


def picture(size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack([xx * 255 // size, yy * 255 // size, (xx + yy) * 127 // size], -1).astype(np.uint8)


def far_from(mask: np.ndarray, distance: int) -> np.ndarray:
    return ndimage.distance_transform_edt(~mask) > distance


# -- recipes ---------------------------------------------------------------------------


def test_default_recipe_is_kandinsky_from_the_hub() -> None:
    r = default_recipe()
    assert r.family == "kandinsky2.2" and r.native_size == 768
    assert (r.prior.source, r.decoder.source, r.inpaint.source) == (
        "kandinsky-community/kandinsky-2-2-prior",
        "kandinsky-community/kandinsky-2-2-decoder",
        "kandinsky-community/kandinsky-2-2-decoder-inpaint",
    )
    assert r.image_encoder.subfolder == "image_encoder" and r.prior.hub
    assert r.steps_for("low") == (5, 10) and r.steps_for(None) == (15, 25) and r.steps_for("high") == (25, 50)


def test_tiny_recipe_roles_are_local_directories(tiny_recipe: Path) -> None:
    r = load_recipe(tiny_recipe)
    assert not r.prior.hub and Path(r.decoder.source) == (tiny_recipe.parent / "decoder").resolve()


BASE = """family = "kandinsky2.2"
prior = "a/prior"
decoder = "a/decoder"
inpaint = "a/inpaint"
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("family = ", "is not valid TOML"),
        (BASE + "colour = 3\n", "unknown key 'colour'"),
        ('family = "kandinsky2.2"\nprior = "a/b"\ndecoder = "a/c"\n', "missing 'inpaint'"),
        (BASE.replace("kandinsky2.2", "karlo"), "family = 'karlo' is not supported"),
        (BASE + "native_size = 500\n", "native_size = 500 must be a multiple of 64"),
        (BASE + 'device = "tpu"\n', "device = 'tpu' must be one of auto, cuda, mps, cpu"),
        (BASE + 'dtype = "float8"\n', "dtype = 'float8' must be one of"),
        (BASE + "guidance = -1\n", "guidance = -1 must be a number"),
        (BASE + "[steps]\nlow = 1\nmedium = 0\nhigh = 3\n", "[steps] medium = 0 must be an integer"),
        (BASE + "[prior_steps]\nlow = 2\nmedium = 2\n", "[prior_steps] high = None"),
        (
            BASE + "[prior_steps]\nlow = 1\nmedium = 2\nhigh = 3\n",
            "low = 1 must be an integer from 2 to 1000",
        ),
        (BASE.replace('"a/decoder"', '"./weights/decoder"'), "does not exist"),
        (BASE.replace('"a/decoder"', "3"), "decoder = 3 must be a local directory or a hub id"),
    ],
)
def test_bad_recipes_name_the_key_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(RecipeError, match="model recipe bad.toml: ") as info:
        parse_recipe(text, origin="bad.toml")
    assert message in str(info.value)


def test_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="does not exist; pass the path of a .toml recipe"):
        DiffusersBackend(tmp_path / "nope.toml")


def test_registered_and_constructed_by_name(tiny_recipe: Path) -> None:
    assert available_backends()["diffusers"].endswith(":DiffusersBackend")
    b = get_backend("diffusers", recipe=str(tiny_recipe), low_memory=True)
    assert b.name == "diffusers" and b.low_memory and "tiny" in repr(b).lower()
    with pytest.raises(ValueError, match="'classical' engine backend does not take recipe"):
        get_backend("classical", recipe="x.toml")


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from dalle_widgets.engine.backends import diffusers as module

    monkeypatch.setattr(module, "_EXTRA", (*module._EXTRA, "dalle_widgets_no_such_package"))
    with pytest.raises(BackendUnavailable, match=r"dalle_widgets_no_such_package not installed.*\[models\]"):
        DiffusersBackend()


# -- loading ---------------------------------------------------------------------------


def test_weights_not_downloaded_and_hub_offline(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(BASE.replace("a/", "dalle-widgets-tests/no-such-") + 'device = "cpu"\n')
    b = DiffusersBackend(recipe)
    with pytest.raises(BackendUnavailable, match="not on this machine") as info:
        b.generate("a fox", size=256, n=1, seed=0)
    assert "HF_HUB_OFFLINE=1" in str(info.value) and "dalle-widgets-tests/no-such-prior" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no torch traceback attached


def test_a_directory_that_is_not_a_pipeline(tiny_recipe: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    text = tiny_recipe.read_text().replace('decoder = "decoder"', f'decoder = "{tmp_path / "empty"}"')
    r = parse_recipe(text, base=tiny_recipe.parent, origin="r.toml")
    with pytest.raises(BackendUnavailable, match="not a saved diffusers pipeline.*model_index.json"):
        DiffusersBackend(r).generate("a fox", size=256, n=1, seed=0)


def test_devices_and_dtypes_torch_lacks_are_refused(tiny_recipe: Path) -> None:
    from dalle_widgets.engine.backends.diffusers.runtime import pick_device, pick_dtype

    with pytest.raises(BackendUnavailable, match="float16.*does not run on the CPU.*bfloat16"):
        pick_dtype("float16", "cpu")
    assert str(pick_dtype("auto", "cpu")) == "torch.float32"
    assert str(pick_dtype("auto", "cuda")) == "torch.float16"
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="sees no CUDA GPU"):
            pick_device("cuda")
        assert pick_device("auto") in ("cpu", "mps")


def test_out_of_memory_and_disk_become_one_line_with_the_fix() -> None:
    import torch

    from dalle_widgets.engine.backends.diffusers.runtime import explain

    oom = explain(
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        what="running the decoder at 768x768",
        device="cuda",
        dtype="float16",
    )
    assert isinstance(oom, OutOfResources) and oom.status == 503
    assert "out of memory on cuda (float16) while running the decoder at 768x768" in str(oom)
    assert "--low-memory" in str(oom) and "native_size" in str(oom)
    cpu = explain(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"), what="x")
    assert isinstance(cpu, OutOfResources)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("download failed") from inner
    except RuntimeError as exc:
        disk = explain(exc, what="loading the prior from kandinsky-community/kandinsky-2-2-prior")
    assert isinstance(disk, OutOfResources) and "HF_HOME" in str(disk) and "12.4 GB" in str(disk)


def test_roles_load_on_first_use_and_low_memory_lets_go(tiny_recipe: Path) -> None:
    b = DiffusersBackend(tiny_recipe, low_memory=True)
    assert b._runtime is None  # nothing loaded, torch untouched, until an image is asked for
    b.generate("a fox", size=256, n=1, seed=0)
    assert set(b.runtime.loaded) == {"prior", "decoder"}
    b.vary(picture(), size=256, n=1, seed=0)
    assert set(b.runtime.loaded) == {"decoder", "image_encoder"}


# -- the three operations ----------------------------------------------------------------


def test_generate_is_deterministic_per_seed_and_images_differ(backend: DiffusersBackend) -> None:
    a = backend.generate("a red fox in the snow", size=256, n=2, seed=11)
    assert [im.shape for im in a] == [(256, 256, 3)] * 2 and a[0].dtype == np.uint8
    assert not np.array_equal(a[0], a[1])
    b = backend.generate("a red fox in the snow", size=256, n=2, seed=11)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # Image i of a request is image 0 of the request seeded seed + i.
    assert np.array_equal(backend.generate("a red fox in the snow", size=256, n=1, seed=12)[0], a[1])
    assert not np.array_equal(backend.generate("a red fox in the snow", size=256, n=1, seed=99)[0], a[0])
    # Rendered at the native 64 px, resampled to the request's size.
    assert backend.generate("a red fox in the snow", size=512, n=1, seed=11)[0].shape == (512, 512, 3)


def test_edit_keeps_every_pixel_outside_the_mask(backend: DiffusersBackend) -> None:
    img = picture(256)
    mask = np.zeros((256, 256), bool)
    mask[80:176, 96:200] = True
    out = backend.edit(img, mask, "a red balloon", size=256, n=2, seed=3)
    outside = far_from(mask, FEATHER_PX)
    for im in out:
        assert np.array_equal(im[outside], img[outside])
        assert np.abs(im[mask].astype(int) - img[mask]).mean() > 10  # the masked area was repainted
    assert not np.array_equal(out[0], out[1])
    again = backend.edit(img, mask, "a red balloon", size=256, n=2, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(out, again, strict=True))


def test_outpaint_at_another_size_keeps_the_resampled_original(backend: DiffusersBackend) -> None:
    img = picture(256)
    mask = np.zeros((256, 256), bool)
    mask[:, 192:] = True  # the right quarter is a new margin
    (out,) = backend.edit(img, mask, "more of the same", size=512, n=1, seed=0)
    from dalle_widgets.engine.backends.diffusers.compose import resample, resample_mask

    expected = resample(img, (512, 512))
    outside = far_from(resample_mask(mask, (512, 512)), FEATHER_PX)
    assert out.shape == (512, 512, 3) and np.array_equal(out[outside], expected[outside])


def test_vary_decodes_the_image_embedding_with_a_seed_per_image(backend: DiffusersBackend) -> None:
    img = picture(256)
    a = backend.vary(img, size=256, n=3, seed=5)
    assert len({im.tobytes() for im in a}) == 3
    assert all(np.array_equal(x, y) for x, y in zip(a, backend.vary(img, size=256, n=3, seed=5), strict=True))
    other = backend.vary(np.ascontiguousarray(img[::-1, ::-1]), size=256, n=1, seed=5)[0]
    assert not np.array_equal(other, a[0])  # the embedding, not only the seed, drives the decode


# -- progress, previews, cancel, queue -------------------------------------------------


def test_progress_counts_every_step_and_previews_are_cheap_pictures(backend: DiffusersBackend) -> None:
    seen: list[Progress] = []
    previews: list[np.ndarray] = []

    def on_progress(p: Progress) -> None:
        seen.append(p)
        pic = p.preview()
        if pic is not None:
            previews.append(pic)

    backend.generate("a lighthouse", size=256, n=2, seed=1, quality="high", on_progress=on_progress)
    prior_steps, steps = backend.recipe.steps_for("high")
    work = [p for p in seen if p.stage != "start"]
    assert [p.done for p in work] == list(range(1, 2 * (prior_steps + steps) + 1))
    assert work[-1].fraction == 1.0 and {p.image for p in work} == {0, 1}
    assert [p.stage for p in work[: prior_steps + steps]] == ["prior"] * prior_steps + ["decoder"] * steps
    assert len(previews) == 2 * steps
    assert all(p.shape == (256, 256, 3) and p.dtype == np.uint8 for p in previews)
    assert all(p.std() > 1 for p in previews)  # a picture, not a flat fill


def test_edit_previews_already_show_the_kept_pixels(backend: DiffusersBackend) -> None:
    img = picture(256)
    mask = np.zeros((256, 256), bool)
    mask[100:160, 100:160] = True
    previews: list[np.ndarray] = []
    backend.edit(
        img, mask, "a door", size=256, n=1, seed=0, on_progress=lambda p: previews.append(p.preview())
    )
    shown = [p for p in previews if p is not None]
    outside = far_from(mask, FEATHER_PX)
    assert shown and all(np.array_equal(p[outside], img[outside]) for p in shown)


def test_cancel_stops_at_the_next_step_and_frees_the_device(backend: DiffusersBackend) -> None:
    steps: list[Progress] = []

    def on_progress(p: Progress) -> None:
        steps.append(p)
        if p.stage == "decoder":
            raise GenerationCancelled("client went away")

    with pytest.raises(GenerationCancelled):
        backend.generate("a fox", size=256, n=3, seed=0, on_progress=on_progress)
    assert steps[-1].stage == "decoder" and steps[-1].step == 1 and steps[-1].image == 0
    # Cancelled while waiting: stops before any work.
    with pytest.raises(GenerationCancelled):
        backend.generate("a fox", size=256, n=1, seed=0, on_progress=_cancel_at_start)
    assert len(backend.generate("a fox", size=256, n=1, seed=0)) == 1  # the device is free again


def _cancel_at_start(p: Progress) -> None:
    if p.stage == "start":
        raise GenerationCancelled("gone while queued")


def test_one_generation_per_device_and_a_bounded_queue(tiny_recipe: Path) -> None:
    b = DiffusersBackend(tiny_recipe, max_queue=1)
    running, release = threading.Event(), threading.Event()

    def hold(p: Progress) -> None:
        running.set()
        assert release.wait(60)

    results: dict[str, object] = {}

    def first() -> None:
        results["first"] = b.generate("a", size=256, n=1, seed=0, on_progress=hold)

    def second() -> None:
        results["second"] = b.generate("b", size=256, n=1, seed=0)

    t1 = threading.Thread(target=first)
    t1.start()
    assert running.wait(60)
    t2 = threading.Thread(target=second)  # waits its turn (queue of one)
    t2.start()
    for _ in range(200):
        if b.runtime and _waiting(b) == 1:
            break
        threading.Event().wait(0.01)
    with pytest.raises(BackendBusy, match="busy: one generation is running and 1 are queued") as info:
        b.generate("c", size=256, n=1, seed=0)
    assert info.value.status == 429 and info.value.retry_after >= 1
    release.set()
    t1.join(60)
    t2.join(60)
    assert len(results["first"]) == 1 and len(results["second"]) == 1


def _waiting(b: DiffusersBackend) -> int:
    from dalle_widgets.engine.backends.diffusers import _queue_for

    return _queue_for(b.runtime.device)._waiting


def test_engine_preview_hook_gets_each_decoder_step(backend: DiffusersBackend) -> None:
    calls: list[tuple[int, int, int, tuple[int, ...]]] = []
    backend.vary(
        picture(),
        size=(256, 256),
        n=2,
        seed=0,
        on_preview=lambda index, step, total, image: calls.append((index, step, total, image.shape)),
    )
    steps = backend.recipe.steps_for(None)[1]
    assert calls == [(i, s, steps, (256, 256, 3)) for i in range(2) for s in range(1, steps + 1)]


def test_whatever_a_hook_raises_reaches_the_caller_unchanged(backend: DiffusersBackend) -> None:
    class ClientGone(OSError):
        pass

    def hook(index: int, step: int, total: int, image: np.ndarray) -> None:
        raise ClientGone("stream closed")

    with pytest.raises(ClientGone, match="stream closed"):
        backend.generate("a fox", size=(256, 256), n=1, seed=0, on_preview=hook)


def test_edit_references_pull_the_result_towards_them(backend: DiffusersBackend) -> None:
    img = picture(256)
    mask = np.zeros((256, 256), bool)
    mask[64:192, 64:192] = True
    plain = backend.edit(img, mask, "a vase", size=(256, 256), n=1, seed=2)[0]
    red = np.zeros((128, 128, 3), np.uint8)
    red[..., 0] = 255
    guided = backend.edit(img, mask, "a vase", size=(256, 256), n=1, seed=2, references=[red])[0]
    assert not np.array_equal(plain[mask], guided[mask])
    outside = far_from(mask, FEATHER_PX)
    assert np.array_equal(guided[outside], img[outside])
