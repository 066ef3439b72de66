"""The package's public surface: lazy exports, the model table, the error tree."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import dalle_widgets
from dalle_widgets import errors, models


def test_import_is_cheap_and_lazy() -> None:
    """`import dalle_widgets` must not pull in the widget, server or HTTP stacks."""
    code = (
        "import sys, dalle_widgets; "
        "heavy = [m for m in ('ipywidgets', 'ipycanvas', 'starlette', 'uvicorn', 'httpx', 'scipy') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_a_clear_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dalle_widgets.nope  # noqa: B018


def test_every_public_name_is_what_its_module_exports() -> None:
    """Each lazy name resolves to the object its module lists in ``__all__``; each submodule is a module."""
    for name, module_name in dalle_widgets._EXPORTS.items():
        module = importlib.import_module(module_name)
        assert name in module.__all__, f"{module_name} does not export {name}"
        assert getattr(dalle_widgets, name) is getattr(module, name)
    for name in dalle_widgets._SUBMODULES:
        assert getattr(dalle_widgets, name) is importlib.import_module(f"dalle_widgets.{name}")
    assert set(dir(dalle_widgets)) >= {*dalle_widgets._EXPORTS, *dalle_widgets._SUBMODULES}


def test_model_table_aliases_and_prices() -> None:
    spec = models.lookup("openai/dall-e-2")
    assert spec is models.lookup("dall-e-2")
    assert spec.price("1024x1024") == 0.020
    assert spec.price("1536x1024") is None
    assert not models.lookup("gpt-image-1").supports("vary")
    assert models.lookup("gpt-image-1").price("1024x1024") is None


def test_unknown_model_gets_generic_spec_and_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        spec = models.lookup("acme/painter-9")
    assert not spec.known and spec.supports("vary")
    assert "painter-9" in caplog.text


def test_error_tree() -> None:
    assert issubclass(errors.InvalidRequestError, ValueError)
    assert issubclass(errors.ModelNotFoundError, errors.NotFoundError)
    assert issubclass(errors.QuotaExceededError, errors.RateLimitError)
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, errors.DalleWidgetsError)


def test_redact_scrubs_keys_and_query_credentials() -> None:
    text = "Bearer sk-live-123456789abc at https://blob/x.png?st=1&sig=SECRET&se=2"
    clean = errors.redact(text, "sk-live-123456789abc")
    assert "sk-live" not in clean and "SECRET" not in clean
