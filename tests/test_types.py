"""The typed seams: one definition per string choice, the client protocols, the py.typed marker.

mypy (in the test command) proves the clients fit the protocols; these tests hold the
run-time side: the tuples the checks read are the aliases' values, the modules that used
to spell them out read them from ``_types``, and the marker is in the package.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import get_args

import pytest

import dalle_widgets
from dalle_widgets import _types
from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.errors import ConfigurationError


def test_the_package_ships_a_py_typed_marker() -> None:
    assert (Path(dalle_widgets.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize(
    ("alias", "values"),
    [
        (_types.Operation, _types.OPERATIONS),
        (_types.WireProtocol, _types.WIRE_PROTOCOLS),
        (_types.CacheMode, _types.CACHE_MODES),
        (_types.MaskTool, _types.MASK_TOOLS),
        (_types.ShapeTool, _types.SHAPE_TOOLS),
    ],
)
def test_each_choice_is_spelled_once(alias: object, values: tuple[str, ...]) -> None:
    assert values == get_args(alias)


def test_the_modules_that_check_choices_read_them_from_types() -> None:
    from dalle_widgets import models
    from dalle_widgets.client import _config
    from dalle_widgets.magics import _resolve
    from dalle_widgets.widgets import mask_document, mask_editor

    assert models.OPERATIONS is _types.OPERATIONS
    assert _config.CACHE_MODES is _types.CACHE_MODES
    assert _config.PROTOCOLS is _types.WIRE_PROTOCOLS
    assert _resolve.PROTOCOLS is _types.WIRE_PROTOCOLS
    assert mask_editor.TOOLS is _types.MASK_TOOLS
    assert mask_document.SHAPE_TOOLS is _types.SHAPE_TOOLS


@pytest.mark.parametrize("bad", [{"cache": "refesh"}, {"protocol": "chats"}])
def test_a_choice_outside_the_alias_is_refused_naming_it(bad: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=repr(next(iter(bad.values())))):
        ImagesClient(base_url="http://127.0.0.1:9/v1", api_key="unused", **bad)


@pytest.mark.parametrize(
    ("client", "protocol", "awaited"),
    [(ImagesClient, _types.SyncImageClient, False), (AsyncImagesClient, _types.AsyncImageClient, True)],
)
def test_the_clients_have_the_protocols_methods_sync_or_async(
    client: type, protocol: type, awaited: bool
) -> None:
    for name in ("generate", "edit", "vary"):
        assert inspect.iscoroutinefunction(getattr(client, name)) is awaited, name
        assert inspect.iscoroutinefunction(getattr(protocol, name)) is awaited, name
    assert not inspect.iscoroutinefunction(client.prepare)  # pricing a request sends nothing
    closer = "aclose" if awaited else "close"
    assert inspect.iscoroutinefunction(getattr(client, closer)) is awaited
