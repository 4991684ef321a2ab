"""cdn's actions: one function each, audited, safe to call twice.

    upload_asset      validate, hash, deduplicate, store the original
    optimize_asset    (re)build the variants of one asset
    optimize_assets   upload and optimize every file of a folder (e.g. STATIC_ROOT)
    invalidate_cdn    see invalidation.py
    ingest_cdn_logs   see usage.py
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from perfmon.audit import audited

from . import detect, images, minify, storage, video
from .conf import cdn_settings
from .errors import CdnError, UnknownAsset
from .invalidation import follow_invalidations, invalidate_cdn  # noqa: F401  (one import path for every action)
from .models import Asset, Variant
from .usage import ingest_cdn_logs  # noqa: F401

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadResult:
    asset_id: int
    created: bool
    kind: str
    content_hash: str


@dataclass(frozen=True)
class OptimizeResult:
    asset_id: int
    variants: int
    bytes_original: int
    bytes_best: int
    dropped: list[str] = field(default_factory=list)
    note: str = ""
    changed: bool = True


def upload_asset(*, name: str, data: bytes, actor: Any, reason: str = "", optimize: bool = True) -> UploadResult:
    """Store a new asset's original under its content hash. Every check (size, name,
    kind from content, bombs, truncation, SVG script) runs before anything is written.
    The same content uploaded again returns the existing asset (a no-op). With
    `optimize`, optimize_asset_task is queued once the row is committed.
    Raises InvalidAsset."""
    with audited("cdn.upload_asset", actor=actor, reason=reason, target=str(name)[:200]) as audit:
        found = detect.detect(name, data)
        digest = hashlib.sha256(data).hexdigest()
        existing = Asset.objects.filter(content_hash=digest).first()
        if existing:
            audit.mark_noop(asset_id=existing.pk, deduplicated=True, content_hash=digest)
            return UploadResult(existing.pk, False, existing.kind, digest)
        key = f"{storage.asset_dir(digest)}/{found.name}"
        wrote = storage.put(key, data)
        try:
            with transaction.atomic():
                asset = Asset.objects.create(
                    name=found.name, content_hash=digest, kind=found.kind, mime_type=found.mime_type, size=len(data),
                    original_key=key, width=found.width, height=found.height, has_alpha=found.has_alpha)
        except IntegrityError:
            # A concurrent upload of the same content won: its row owns the original; ours
            # (the same bytes, perhaps under another name) goes.
            asset = Asset.objects.get(content_hash=digest)
            if wrote and key != asset.original_key:
                storage.delete([key])
            audit.mark_noop(asset_id=asset.pk, deduplicated=True, content_hash=digest)
            return UploadResult(asset.pk, False, asset.kind, digest)
        except Exception:
            if wrote:
                storage.delete([key])
            raise
        audit.set_after(asset_id=asset.pk, kind=asset.kind, size=asset.size, content_hash=digest, key=key)
    if optimize:
        from .tasks import optimize_asset_task

        transaction.on_commit(lambda: optimize_asset_task.delay(asset.pk))
    return UploadResult(asset.pk, True, asset.kind, digest)


@dataclass(frozen=True)
class DeleteResult:
    asset_id: int
    deleted: bool
    files: int
    invalidation_id: int | None = None


def delete_asset(*, asset_id: int, actor: Any, reason: str = "", invalidate: bool = True) -> DeleteResult:
    """Remove an asset: its rows now, its files once that commits, and (with
    `invalidate`) its URLs from the CDN's caches. Deleting an asset that is already gone
    is a no-op. Usage rows keep their counts and lose the link. Raises CdnError if the
    invalidation is refused (the asset is deleted by then)."""
    with audited("cdn.delete_asset", actor=actor, reason=reason, target=f"asset:{asset_id}") as audit:
        with transaction.atomic():
            asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
            if asset is None:
                audit.mark_noop(already_deleted=True)
                return DeleteResult(asset_id, False, 0)
            keys = [asset.original_key, *asset.variants.values_list("storage_key", flat=True)]
            audit.record.before = {"name": asset.name, "content_hash": asset.content_hash, "keys": keys}
            audit.record.save(update_fields=["before"])
            asset.delete()
        storage.delete(keys)
        invalidation_id = None
        if invalidate:
            invalidation_id = invalidate_cdn(paths=["/" + k for k in keys], actor=actor,
                                             reason=reason or "asset deleted",
                                             wait=False).invalidation_id
        audit.set_after(deleted=True, files=len(keys), invalidation_id=invalidation_id)
        return DeleteResult(asset_id, True, len(keys), invalidation_id)


def get_asset(asset_id: int) -> Asset:
    try:
        return Asset.objects.get(pk=asset_id)
    except Asset.DoesNotExist:
        raise UnknownAsset(f"No asset with id {asset_id}.") from None


@dataclass
class _Built:
    rows: list[Variant]
    blobs: dict[str, bytes]
    dropped: list[str] = field(default_factory=list)
    note: str = ""
    metadata: dict = field(default_factory=dict)


def optimize_asset(*, asset_id: int, actor: Any, reason: str = "") -> OptimizeResult:
    """Build the asset's variants from its original and swap them in atomically. Safe to
    re-run: variant keys carry their own content hash, so identical output rewrites
    nothing and is recorded as a no-op; files of replaced variants are deleted after the
    swap commits. A failure (a script that does not parse) leaves the old variants.
    Raises UnknownAsset, MinifyFailed, CdnError."""
    asset = get_asset(asset_id)
    with audited("cdn.optimize_asset", actor=actor, reason=reason, target=f"asset:{asset.pk}",
                 before={"variants": list(asset.variants.values_list("storage_key", flat=True))}) as audit:
        try:
            built = _build(asset, storage.read(asset.original_key))
        except (CdnError, OSError, ValueError) as exc:
            message = exc.message if isinstance(exc, CdnError) else f"The original could not be processed: {exc}"
            # The published variants stay; the asset says its last optimization failed and why.
            Asset.objects.filter(pk=asset.pk).update(status=Asset.Status.FAILED, note=message[:2000])
            if isinstance(exc, CdnError):
                raise
            raise CdnError(message) from exc
        written = [key for key, blob in built.blobs.items() if storage.put(key, blob)]
        with transaction.atomic():
            locked = Asset.objects.select_for_update().get(pk=asset.pk)
            old = set(locked.variants.values_list("storage_key", flat=True))
            new = {row.storage_key for row in built.rows}
            if old != new:
                locked.variants.all().delete()
                Variant.objects.bulk_create(built.rows)
            locked.status = Asset.Status.READY
            locked.note = built.note
            locked.metadata = {**locked.metadata, **built.metadata}
            locked.optimized_at = timezone.now()
            locked.optimize_count += 1
            locked.save(update_fields=["status", "note", "metadata", "optimized_at", "optimize_count"])
        stale = sorted(old - new)
        transaction.on_commit(lambda: storage.delete(stale))
        served = [r for r in built.rows
                  if r.encoding == Variant.Encoding.IDENTITY and r.format not in ("poster", "map")]
        widest = max((r.width or 0 for r in served), default=0)
        best = min([r.bytes for r in served if (r.width or 0) == widest] or [asset.size])
        result = OptimizeResult(asset.pk, len(built.rows), asset.size, best, built.dropped, built.note, old != new)
        (audit.set_after if old != new else audit.mark_noop)(
            variants=sorted(new), written=len(written), removed=stale, dropped=built.dropped, note=built.note)
        return result


def _build(asset: Asset, data: bytes) -> _Built:
    stem = detect.storage_stem(asset.name)
    if asset.kind == Asset.Kind.IMAGE and asset.mime_type != "image/svg+xml":
        return _build_image(asset, data, stem)
    if asset.kind in (Asset.Kind.SCRIPT, Asset.Kind.STYLE):
        text = data.decode("utf-8-sig")
        if minify.has_source_map(text):
            # Already built by a bundler that wrote a source map: minifying again would
            # move every position the map points at, so it is published as it is.
            out = minify.keep_with_source_map(text, asset.kind == Asset.Kind.SCRIPT)
        else:
            out = minify.minify_script(text) if asset.kind == Asset.Kind.SCRIPT else minify.minify_style(text)
        ext = "js" if asset.kind == Asset.Kind.SCRIPT else "css"
        body = out.text.encode()
        key = storage.variant_key(asset.content_hash, stem, "min", body, ext)
        built = _Built([Variant(asset=asset, format=Variant.Format.MIN, bytes=len(body), storage_key=key)],
                       {key: body}, metadata={"minifier": out.minifier})
        _add_compressed(built, asset, key, body, Variant.Format.MIN)
        _add_source_map(built, asset, text)
        return built
    if asset.kind == Asset.Kind.VIDEO:
        return _build_video(asset, data, stem)
    built = _Built([], {})
    if asset.mime_type in ("image/svg+xml", "font/ttf", "font/otf"):
        # Text-like formats compress well; WOFF/WOFF2 and the rest are compressed already.
        _add_compressed(built, asset, asset.original_key, data, None)
    return built


def _add_source_map(built: _Built, asset: Asset, text: str) -> None:
    """Publish the uploaded map beside the file, where its relative sourceMappingURL points."""
    name = minify.source_map_name(text)
    if not name:
        return
    source = Asset.objects.filter(name=detect.clean_name(name)).order_by("-created_at").first()
    if source is None:
        built.note = f"Its source map {name} has not been uploaded: upload it and re-optimize this asset."
        return
    data = storage.read(source.original_key)
    key = f"{storage.asset_dir(asset.content_hash)}/{name}"
    built.rows.append(Variant(asset=asset, format=Variant.Format.MAP, bytes=len(data), storage_key=key))
    built.blobs[key] = data


def _add_compressed(built: _Built, asset: Asset, key: str, body: bytes, fmt: str | None) -> None:
    for encoding, suffix, blob in ((Variant.Encoding.GZIP, "gz", minify.gzip_bytes(body)),
                                   (Variant.Encoding.BR, "br", minify.brotli_bytes(body, cdn_settings.BROTLI_LEVEL))):
        if len(blob) < len(body):
            built.rows.append(Variant(asset=asset, format=fmt or Variant.Format.ORIGINAL, encoding=encoding,
                                      bytes=len(blob), storage_key=f"{key}.{suffix}"))
            built.blobs[f"{key}.{suffix}"] = blob


def _build_image(asset: Asset, data: bytes, stem: str) -> _Built:
    if _is_animated(data):
        return _Built([], {}, note="An animated image is served as uploaded: still variants would lose the "
                                   "animation.")
    result = images.build_variants(data, widths=list(cdn_settings.IMAGE_WIDTHS), quality=cdn_settings.QUALITY,
                                   avif_speed=cdn_settings.AVIF_SPEED, avif_tune=cdn_settings.AVIF_TUNE)
    built = _Built([], {}, dropped=result.dropped,
                   metadata={"oriented_size": list(result.source_size), "has_alpha": result.has_alpha})
    for enc in result.variants:
        key = storage.variant_key(asset.content_hash, stem, str(enc.width), enc.data,
                                  "jpg" if enc.format == "jpeg" else enc.format)
        built.rows.append(Variant(asset=asset, format=enc.format, width=enc.width, height=enc.height,
                                  bytes=len(enc.data), storage_key=key, ssim=enc.ssim))
        built.blobs[key] = enc.data
    return built


def _build_video(asset: Asset, data: bytes, stem: str) -> _Built:
    info = video.inspect_video(data)
    built = _Built([], {}, note=info.note, metadata={"video": info.metadata} if info.metadata else {})
    if info.poster:
        key = storage.variant_key(asset.content_hash, stem, "poster", info.poster, "jpg")
        built.rows.append(Variant(asset=asset, format=Variant.Format.POSTER, width=info.metadata.get("width"),
                                  height=info.metadata.get("height"), bytes=len(info.poster), storage_key=key))
        built.blobs[key] = info.poster
    return built


def _is_animated(data: bytes) -> bool:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return bool(getattr(img, "is_animated", False))


@dataclass(frozen=True)
class FolderResult:
    uploaded: int
    deduplicated: int
    optimized: int
    failed: dict[str, str]
    files: int


def optimize_assets(*, folder: str | Path, actor: Any, reason: str = "", dry_run: bool = False,
                    limit: int | None = None) -> FolderResult:
    """Upload and optimize every file under `folder` (e.g. STATIC_ROOT after
    collectstatic). Files whose content is already an asset are optimized only if they
    never were. One bad file is reported, not fatal. Raises CdnError for a bad folder."""
    root = Path(folder)
    if not root.is_dir():
        raise CdnError(f"{root} is not a folder.")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith((".gz", ".br")))[:limit]
    counts = {"uploaded": 0, "deduplicated": 0, "optimized": 0}
    failed: dict[str, str] = {}
    with audited("cdn.optimize_assets", actor=actor, reason=reason, target=str(root)[:200]) as audit:
        for path in files:
            rel = str(path.relative_to(root))
            if dry_run:
                continue
            try:
                up = upload_asset(name=path.name, data=path.read_bytes(), actor=actor, reason=reason, optimize=False)
                counts["uploaded" if up.created else "deduplicated"] += 1
                if up.created or not Asset.objects.filter(pk=up.asset_id, optimized_at__isnull=False).exists():
                    optimize_asset(asset_id=up.asset_id, actor=actor, reason=reason)
                    counts["optimized"] += 1
            except CdnError as exc:
                failed[rel] = exc.message
        audit.set_after(files=len(files), failed=failed, dry_run=dry_run, **counts)
    return FolderResult(files=len(files), failed=failed, **counts)
