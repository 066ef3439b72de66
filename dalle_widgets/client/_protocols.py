"""The two wire protocols: OpenAI's Images API and chat completions with image output.

``images``
    ``POST {base}/images/generations`` (JSON), ``/images/edits`` and
    ``/images/variations`` (multipart). Answers ``{"data": [{"b64_json"|"url": ...}]}``.
``chat``
    What OpenAI-compatible aggregators expose: ``POST {base}/chat/completions`` with
    ``{"model": "openai/dall-e-2", "messages": [...], "modalities": ["image", "text"]}``.
    Images come back in ``choices[].message.images[].image_url.url`` (data URLs or
    http(s) links); as a fallback, image links or data URLs inside ``message.content``.
    Edits and variations send the image (and mask) as ``image_url`` data-URL parts
    with a short instruction.

Everything here is pure: it builds bodies and reads them, it never sends.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from .._types import Operation
from ..errors import InvalidResponseError
from ._responses import RawImage, decode_data_url, snippet
from ._uploads import Upload

__all__ = ["CHAT_PATH", "IMAGES_PATHS", "build_chat_body", "parse_chat_body"]

IMAGES_PATHS = {"generate": "images/generations", "edit": "images/edits", "vary": "images/variations"}
CHAT_PATH = "chat/completions"

EDIT_INSTRUCTION = (
    "Edit the first attached image. The second attached image is a mask: change only the area where "
    "the mask is transparent and keep everything else exactly as it is. The whole result should show: "
)
EDIT_NO_MASK_INSTRUCTION = (
    "Edit the attached image: regenerate its transparent area and keep everything else. The whole result "
    "should show: "
)
VARY_INSTRUCTION = (
    "Make a variation of the attached image: the same subject, composition and style, with new details."
)

_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+")
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\((https?://[^)\s]+)\)")
_IMAGE_LINK = re.compile(r"https?://[^\s)\"'<>]+?\.(?:png|jpe?g|webp|gif)(?:\?[^\s)\"'<>]*)?", re.IGNORECASE)


def data_url(upload: Upload) -> str:
    return "data:image/png;base64," + base64.b64encode(upload.data).decode("ascii")


def build_chat_body(
    operation: Operation,
    model: str,
    prompt: str | None,
    uploads: list[Upload],
    options: dict[str, Any],
) -> dict[str, Any]:
    """The chat-completions JSON body for ``operation`` (``options``: n, seed, user, extras)."""
    if operation == "generate":
        content: Any = prompt or ""
    else:
        if operation == "vary":
            text = VARY_INSTRUCTION
        elif any(u.part == "mask" for u in uploads):
            text = EDIT_INSTRUCTION + (prompt or "")
        else:
            text = EDIT_NO_MASK_INSTRUCTION + (prompt or "")
        content = [{"type": "text", "text": text}]
        content += [{"type": "image_url", "image_url": {"url": data_url(u)}} for u in uploads]
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "modalities": ["image", "text"],
    }
    body.update({k: v for k, v in options.items() if v is not None})
    return body


def summarize_chat_body(body: dict[str, Any], uploads: list[Upload]) -> dict[str, Any]:
    """``body`` with every data URL replaced by a short description (for describe() and repr)."""
    by_url = {data_url(u): f"<{u.filename} {u.size[0]}x{u.size[1]}, {u.nbytes:,} bytes>" for u in uploads}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith("data:"):
            return by_url.get(value, "<data URL>")
        return value

    summary: dict[str, Any] = walk(body)
    return summary


def _images_from_content(content: Any, where: str) -> list[RawImage]:
    found: list[RawImage] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            ref = part.get("image_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
            if isinstance(url, str):
                found.extend(_images_from_content(url, where))
            elif isinstance(part.get("text"), str):
                found.extend(_images_from_content(part["text"], where))
        return found
    if not isinstance(content, str):
        return found
    for i, match in enumerate(_DATA_URL.finditer(content)):
        found.append(RawImage(data=decode_data_url("".join(match.group(0).split()), f"{where} data URL {i}")))
    links = _MARKDOWN_IMAGE.findall(content) or _IMAGE_LINK.findall(content)
    if not links and content.strip().startswith(("http://", "https://")) and " " not in content.strip():
        links = [content.strip()]
    seen: set[str] = set()
    for url in links:
        if url not in seen:
            seen.add(url)
            found.append(RawImage(url=url))
    return found


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def parse_chat_body(payload: Any, where: str) -> list[RawImage]:
    """Images from a chat-completions body; :class:`InvalidResponseError` when there are none."""
    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            raise InvalidResponseError(
                f"{where} answered 200 with an error: {payload['error'].get('message')!r}"
            )
        raise InvalidResponseError(f"{where} answered JSON without 'choices': {snippet(str(payload), 120)!r}")
    images: list[RawImage] = []
    texts: list[str] = []
    for c, choice in enumerate(payload["choices"]):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        text = _content_text(message.get("content"))
        if text:
            texts.append(text)
        note = snippet(text, 500) if text else None
        listed = message.get("images")
        from_list: list[RawImage] = []
        if isinstance(listed, list):
            for i, item in enumerate(listed):
                ref = item.get("image_url") if isinstance(item, dict) else item
                url = ref.get("url") if isinstance(ref, dict) else ref
                if not isinstance(url, str):
                    continue
                label = f"{where}: choices[{c}].message.images[{i}]"
                if url.startswith("data:"):
                    try:
                        from_list.append(RawImage(data=decode_data_url(url, label), revised_prompt=note))
                    except InvalidResponseError as exc:
                        from_list.append(RawImage(error=exc))
                else:
                    from_list.append(RawImage(url=url, revised_prompt=note))
        if not from_list:
            from_list = [
                RawImage(data=r.data, url=r.url, revised_prompt=note)
                for r in _images_from_content(message.get("content"), f"{where}: choices[{c}]")
            ]
        images.extend(from_list)
    if not images:
        said = " ".join(texts).strip()
        quoted = f"; its text began: {snippet(said, 200)!r}" if said else " and no text"
        raise InvalidResponseError(
            f"{where} answered 200 with no image{quoted}. Does this model produce images over chat "
            "completions? Try protocol='images', or a model with image output."
        )
    return images
