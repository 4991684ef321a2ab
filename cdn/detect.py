"""What an upload is, judged from its bytes (never the extension alone), and whether
it is safe to keep: every check here runs before anything is written to storage."""
from __future__ import annotations

import io
import posixpath
import re
from dataclasses import dataclass

from PIL import Image

from .conf import cdn_settings
from .errors import InvalidAsset

# Extension -> the kinds its content may be. An unknown extension is accepted as "other"
# only when the content is not something we recognise as another kind.
EXTENSION_KINDS: dict[str, tuple[str, ...]] = {
    "jpg": ("image/jpeg",), "jpeg": ("image/jpeg",), "png": ("image/png",), "gif": ("image/gif",),
    "webp": ("image/webp",), "avif": ("image/avif",), "svg": ("image/svg+xml",),
    "mp4": ("video/mp4",), "m4v": ("video/mp4",), "mov": ("video/quicktime", "video/mp4"), "webm": ("video/webm",),
    "js": ("application/javascript",), "mjs": ("application/javascript",), "css": ("text/css",),
    "map": ("application/json",), "json": ("application/json",),
    "woff": ("font/woff",), "woff2": ("font/woff2",), "ttf": ("font/ttf",), "otf": ("font/otf",),
}
KIND_OF_MIME = {
    "image/jpeg": "image", "image/png": "image", "image/gif": "image", "image/webp": "image", "image/avif": "image",
    "image/svg+xml": "image", "video/mp4": "video", "video/quicktime": "video", "video/webm": "video",
    "application/javascript": "script", "text/css": "style", "font/woff": "font", "font/woff2": "font",
    "font/ttf": "font", "font/otf": "font", "application/json": "other",
}
RASTER = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Detected:
    name: str
    kind: str
    mime_type: str
    width: int | None = None
    height: int | None = None
    has_alpha: bool = False


def clean_name(name: str) -> str:
    """The file's base name made safe for a storage key. A name with `..`, an absolute
    path or a control character is refused rather than quietly rewritten."""
    if not name or not name.strip():
        raise InvalidAsset("The file has no name.")
    if "\x00" in name or any(ord(c) < 32 for c in name):
        raise InvalidAsset("The file name contains control characters.")
    parts = re.split(r"[\\/]+", name)
    if ".." in parts or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise InvalidAsset(f"The file name {name[:100]!r} contains a path ('..' or an absolute path); "
                           f"upload a plain file name.")
    base = _SAFE_NAME.sub("-", parts[-1]).strip(".-") or "file"
    return base[-120:]


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes declare by their magic numbers, or None."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head[:4] == b"wOFF":
        return "font/woff"
    if head[:4] == b"wOF2":
        return "font/woff2"
    if head[:4] == b"\x00\x01\x00\x00":
        return "font/ttf"
    if head[:4] == b"OTTO":
        return "font/otf"
    return None


def detect(name: str, data: bytes) -> Detected:
    """Classify and validate an upload. Raises InvalidAsset with the reason."""
    limit = cdn_settings.MAX_UPLOAD_BYTES
    if len(data) > limit:
        raise InvalidAsset(f"The file is {len(data):,} bytes; the limit is {limit:,} (CDN MAX_UPLOAD_BYTES).")
    if not data:
        raise InvalidAsset("The file is empty.")
    name = clean_name(name)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    mime = sniff(data) or _text_type(data, ext)
    expected = EXTENSION_KINDS.get(ext)
    if expected and mime not in expected:
        found = mime or "unrecognised content"
        raise InvalidAsset(f"The content is {found} but the name ends in .{ext}: the content decides the kind, "
                           f"so rename the file or upload the right one.")
    if mime is None:
        return Detected(name, "other", "application/octet-stream")
    if mime in RASTER:
        return _check_raster(name, mime, data)
    if mime == "image/svg+xml":
        check_svg(data)
    return Detected(name, KIND_OF_MIME[mime], mime)


def _text_type(data: bytes, ext: str) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    head = text.lstrip()[:4096].lower()
    if head.startswith(("<svg", "<?xml", "<!--", "<!doctype svg")) and "<svg" in head:
        return "image/svg+xml"
    if ext in ("map", "json"):
        import json

        try:
            json.loads(text)
            return "application/json"
        except ValueError:
            return None
    if ext not in ("js", "mjs", "css", ""):
        # Plain text, HTML, Markdown...: a short text can parse as JavaScript ("hello"),
        # so only a script/style name or no extension at all asks the parsers.
        return None
    from .minify import parses_as_css, parses_as_js

    # Try the parser the extension suggests first: short snippets can parse as both.
    order = ["css", "js"] if ext == "css" else ["js", "css"]
    for lang in order:
        if lang == "js" and parses_as_js(text):
            return "application/javascript"
        if lang == "css" and parses_as_css(text):
            return "text/css"
    return None


def _check_raster(name: str, mime: str, data: bytes) -> Detected:
    max_pixels = cdn_settings.MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise InvalidAsset(f"The image declares {width}x{height} = {width * height:,} pixels, above the "
                                   f"limit of {max_pixels:,} (a decompression bomb is refused before decoding).")
            if img.format == "JPEG":
                # Decoding at 1/8 scale still reads every entropy-coded byte: a truncated
                # file fails here at a fraction of the cost of a full decode.
                img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
            img.load()
            has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    except InvalidAsset:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidAsset(f"The image is a decompression bomb: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidAsset(f"The image cannot be decoded (truncated or corrupt): {exc}") from exc
    return Detected(name, "image", mime, width, height, has_alpha)


_SVG_EVENT = re.compile(r"^on[a-z]+$", re.IGNORECASE)


def check_svg(data: bytes) -> None:
    """Refuse SVG that can run script: <script>, on* handlers, javascript: links,
    <foreignObject>; entity expansion and external entities are refused by defusedxml."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise InvalidAsset(f"The SVG uses XML entities or a DTD, which are refused: {exc}") from exc
    except SafeET.ParseError as exc:
        raise InvalidAsset(f"The SVG is not well-formed XML: {exc}") from exc
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower() if isinstance(element.tag, str) else ""
        if tag in ("script", "foreignobject"):
            raise InvalidAsset(f"The SVG contains a <{tag}> element; SVG with script is refused.")
        for attr, value in element.attrib.items():
            local = attr.rsplit("}", 1)[-1]
            if _SVG_EVENT.match(local):
                raise InvalidAsset(f"The SVG has an event handler attribute {local!r}; SVG with script is refused.")
            if re.sub(r"\s", "", value).lower().startswith(("javascript:", "data:text/html")):
                raise InvalidAsset(f"The SVG has a {local!r} link to script; SVG with script is refused.")


def storage_stem(name: str) -> str:
    return posixpath.splitext(name)[0][:80] or "file"
