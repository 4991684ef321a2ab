"""Template tags: `{% cdn_picture asset sizes="100vw" alt="..." %}` renders a <picture>
with AVIF, WebP and fallback srcsets; `{% cdn_url asset %}` (or a storage key, or
`width=640 format="webp"`) renders one URL. URLs follow the viewer's region header."""
from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from ..models import Asset, Variant
from ..serving import url_for

register = template.Library()
SOURCE_ORDER = (("avif", "image/avif"), ("webp", "image/webp"))


def _asset(value) -> Asset | None:
    if isinstance(value, Asset):
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return Asset.objects.filter(pk=int(value)).first()
    if isinstance(value, str) and len(value) == 64:
        return Asset.objects.filter(content_hash=value).first()
    return None


def _variants(asset: Asset) -> list[Variant]:
    return [v for v in asset.variants.all() if v.encoding == Variant.Encoding.IDENTITY]


@register.simple_tag(takes_context=True)
def cdn_url(context, value, width: int | None = None, format: str | None = None) -> str:  # noqa: A002
    request = context.get("request")
    asset = _asset(value)
    if asset is None:
        return url_for(str(value), request) if isinstance(value, str) else ""
    if width or format:
        matches = [v for v in _variants(asset)
                   if (not format or v.format == format) and (not width or v.width == width)]
        if matches:
            return url_for(min(matches, key=lambda v: v.bytes).storage_key, request)
    return url_for(asset.original_key, request)


@register.simple_tag(takes_context=True)
def cdn_picture(context, value, sizes: str = "100vw", alt: str = "", css_class: str = "",
                loading: str = "lazy") -> SafeString:
    request = context.get("request")
    asset = _asset(value)
    if asset is None:
        return mark_safe("")
    variants = _variants(asset)
    fallback_format = "png" if any(v.format == "png" for v in variants) else "jpeg"

    def srcset(fmt: str) -> str:
        chosen = sorted((v for v in variants if v.format == fmt and v.width), key=lambda v: v.width)
        return ", ".join(f"{url_for(v.storage_key, request)} {v.width}w" for v in chosen)

    fallbacks = sorted((v for v in variants if v.format == fallback_format and v.width), key=lambda v: v.width)
    if not fallbacks:  # not optimized yet: the original alone
        return format_html('<img src="{}" alt="{}" loading="{}" decoding="async"{}>',
                           url_for(asset.original_key, request), alt, loading,
                           format_html(' class="{}"', css_class) if css_class else "")
    largest = fallbacks[-1]
    sources = format_html_join("", '<source type="{}" srcset="{}" sizes="{}">',
                               ((mime, srcset(fmt), sizes) for fmt, mime in SOURCE_ORDER if srcset(fmt)))
    img = format_html('<img src="{}" srcset="{}" sizes="{}" width="{}" height="{}" alt="{}" loading="{}" '
                      'decoding="async"{}>', url_for(largest.storage_key, request), srcset(fallback_format), sizes,
                      largest.width, largest.height, alt, loading,
                      format_html(' class="{}"', css_class) if css_class else "")
    return format_html("<picture>{}{}</picture>", sources, img)
