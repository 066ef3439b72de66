"""Model recipes: which weights play which role, and how to run them (pure Python, no torch).

A recipe is a small TOML file. Each *role* (``prior``, ``decoder``, ``inpaint``, and
optionally ``image_encoder``) is a local directory, as the matching diffusers
pipeline's ``save_pretrained`` writes it, or a Hugging Face hub id (``owner/name``).
Relative directories are read from the recipe file's folder. The default recipe is
package data (``kandinsky-2-2.toml``): hub ids live there and nowhere else in the code,
because hub repositories disappear and users must be able to point elsewhere.

>>> r = parse_recipe('''
... family = "kandinsky2.2"
... prior = "kandinsky-community/kandinsky-2-2-prior"
... decoder = "kandinsky-community/kandinsky-2-2-decoder"
... inpaint = "kandinsky-community/kandinsky-2-2-decoder-inpaint"
... native_size = 512
... [steps]
... low = 10
... medium = 20
... high = 40
... [prior_steps]
... low = 5
... medium = 10
... high = 20
... ''')
>>> r.prior.hub, r.image_encoder.source, r.image_encoder.subfolder
(True, 'kandinsky-community/kandinsky-2-2-prior', 'image_encoder')
>>> r.steps_for("high"), r.steps_for("standard")
((20, 40), (10, 20))
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import RecipeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DEFAULT_RECIPE",
    "DEVICES",
    "DTYPES",
    "FAMILIES",
    "QUALITIES",
    "Location",
    "Recipe",
    "default_recipe",
    "load_recipe",
    "parse_recipe",
]

#: The file, in this package, that holds the default recipe.
DEFAULT_RECIPE = "kandinsky-2-2.toml"
FAMILIES = ("kandinsky2.2",)
DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "float16", "bfloat16", "float32")
QUALITIES = ("low", "medium", "high")
#: Request qualities that map onto the recipe's three step counts.
_QUALITY_ALIASES = {"auto": "medium", "standard": "medium", "hd": "high", "xhigh": "high", "max": "high"}
_ROLES = ("prior", "decoder", "inpaint")
_KEYS = {
    "family",
    *_ROLES,
    "image_encoder",
    "native_size",
    "device",
    "dtype",
    "guidance",
    "prior_guidance",
    "steps",
    "prior_steps",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class Location:
    """Where one role's weights are: a local directory (``hub=False``) or a hub id."""

    source: str
    hub: bool
    subfolder: str | None = None

    def __str__(self) -> str:
        return self.source + (f" (subfolder {self.subfolder})" if self.subfolder else "")


@dataclass(frozen=True)
class Recipe:
    """A validated recipe (see the module docstring); build with :func:`load_recipe`."""

    family: str
    prior: Location
    decoder: Location
    inpaint: Location
    image_encoder: Location
    native_size: int = 768
    device: str = "auto"
    dtype: str = "auto"
    guidance: float = 4.0
    prior_guidance: float = 4.0
    steps: dict[str, int] = field(default_factory=lambda: {"low": 10, "medium": 25, "high": 50})
    prior_steps: dict[str, int] = field(default_factory=lambda: {"low": 5, "medium": 15, "high": 25})
    origin: str = "<string>"

    def steps_for(self, quality: str | None) -> tuple[int, int]:
        """``(prior steps, decoder steps)`` for a request's ``quality`` (None means medium)."""
        q = _QUALITY_ALIASES.get(quality or "auto", quality or "medium")
        if q not in QUALITIES:
            raise ValueError(
                f"quality {quality!r} is not one of {', '.join(QUALITIES)} (or auto/standard/hd)"
            )
        return self.prior_steps[q], self.steps[q]

    def with_overrides(self, **changes: Any) -> Recipe:
        """A copy with some fields replaced (device, dtype, native_size...), validated again."""
        from dataclasses import replace

        new = replace(self, **changes)
        _check_scalars(new)
        return new


def _bad(origin: str, message: str) -> RecipeError:
    return RecipeError(f"model recipe {origin}: {message}")


def _location(value: Any, key: str, base: Path | None, origin: str) -> Location:
    if not isinstance(value, str) or not value.strip():
        raise _bad(
            origin,
            f"{key} = {value!r} must be a local directory or a hub id such as "
            f"'kandinsky-community/kandinsky-2-2-{key}'",
        )
    text = value.strip()
    path = Path(text).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if path.is_dir():
        return Location(str(path.resolve()), hub=False)
    looks_local = text.startswith(("/", ".", "~")) or "\\" in text or not _HUB_ID.match(text)
    if looks_local:
        raise _bad(
            origin,
            f"{key} = {value!r}: directory {str(path)!r} does not exist. Point it at a folder written by "
            f"the pipeline's save_pretrained, or at a hub id ('owner/name').",
        )
    return Location(text, hub=True)


def _steps(value: Any, key: str, origin: str, *, least: int = 1) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _bad(origin, f"[{key}] must be a table with low, medium and high step counts")
    unknown = sorted(set(value) - set(QUALITIES))
    if unknown:
        raise _bad(origin, f"[{key}] has unknown key {unknown[0]!r}; use low, medium and high")
    out: dict[str, int] = {}
    for q in QUALITIES:
        n = value.get(q)
        if isinstance(n, bool) or not isinstance(n, int) or not least <= n <= 1000:
            why = " (the prior's unCLIP scheduler needs at least 2)" if least == 2 else ""
            raise _bad(origin, f"[{key}] {q} = {n!r} must be an integer from {least} to 1000{why}")
        out[q] = n
    return out


def _check_scalars(r: Recipe) -> None:
    o = r.origin
    if r.family not in FAMILIES:
        raise _bad(o, f"family = {r.family!r} is not supported; use one of: {', '.join(FAMILIES)}")
    size = r.native_size
    if isinstance(size, bool) or not isinstance(size, int) or not 64 <= size <= 2048 or size % 64:
        raise _bad(
            o,
            f"native_size = {size!r} must be a multiple of 64 from 64 to 2048 "
            f"(Kandinsky renders in 64 px blocks; 768 is the model's own size)",
        )
    if not isinstance(r.device, str) or not _DEVICE.match(r.device):
        raise _bad(o, f"device = {r.device!r} must be one of {', '.join(DEVICES)} (or cuda:N)")
    if r.dtype not in DTYPES:
        raise _bad(o, f"dtype = {r.dtype!r} must be one of {', '.join(DTYPES)}")
    for key in ("guidance", "prior_guidance"):
        g = getattr(r, key)
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not 0 <= g <= 50:
            raise _bad(o, f"{key} = {g!r} must be a number from 0 to 50 (4.0 is Kandinsky's default)")


def parse_recipe(text: str, *, base: str | Path | None = None, origin: str = "<string>") -> Recipe:
    """Parse and validate recipe TOML; relative role directories are read from ``base``.

    Raises
    ------
    RecipeError
        For invalid TOML, an unknown or missing key, or a bad value; the message names
        the file, the key, the value and what is allowed.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(origin, f"is not valid TOML ({exc})") from None
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise _bad(origin, f"unknown key {unknown[0]!r}; the keys are {', '.join(sorted(_KEYS))}")
    missing = [k for k in ("family", *_ROLES) if k not in data]
    if missing:
        raise _bad(origin, f"missing {missing[0]!r}; a recipe names family, prior, decoder and inpaint")
    base_dir = Path(base) if base is not None else None
    locations = {k: _location(data[k], k, base_dir, origin) for k in _ROLES}
    if "image_encoder" in data:
        image_encoder = _location(data["image_encoder"], "image_encoder", base_dir, origin)
    else:  # Kandinsky's prior repository carries the CLIP image encoder DALL-E 2 varies with.
        prior = locations["prior"]
        image_encoder = Location(prior.source, prior.hub, subfolder="image_encoder")
    recipe = Recipe(
        family=data["family"],
        image_encoder=image_encoder,
        native_size=data.get("native_size", 768),
        device=data.get("device", "auto"),
        dtype=data.get("dtype", "auto"),
        guidance=data.get("guidance", 4.0),
        prior_guidance=data.get("prior_guidance", 4.0),
        steps=_steps(data.get("steps", {"low": 10, "medium": 25, "high": 50}), "steps", origin),
        prior_steps=_steps(
            data.get("prior_steps", {"low": 5, "medium": 15, "high": 25}), "prior_steps", origin, least=2
        ),
        origin=origin,
        **locations,
    )
    _check_scalars(recipe)
    return recipe


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe file (see :func:`parse_recipe`)."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(
            f"model recipe {str(p)!r} does not exist; pass the path of a .toml recipe file "
            f"(the default is {DEFAULT_RECIPE} in dalle_widgets.engine.backends.diffusers)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"model recipe {str(p)!r} cannot be read: {exc}") from None
    return parse_recipe(text, base=p.resolve().parent, origin=str(p))


def default_recipe() -> Recipe:
    """The packaged default recipe (Kandinsky 2.2 from the hub)."""
    text = resources.files(__package__).joinpath(DEFAULT_RECIPE).read_text(encoding="utf-8")
    return parse_recipe(text, origin=DEFAULT_RECIPE)
