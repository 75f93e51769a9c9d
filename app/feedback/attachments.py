"""The file a feedback may carry: its type told by its content (never by its name or the type the browser sends),
checked by the library that reads it, and, for an anonymous feedback, cleaned of what a library can remove.

Allowed: PNG and JPEG (Pillow), PDF (pypdf), plain text in UTF-8. Not DOCX or XLSX: their authors sit in the
core properties, and also in comments, tracked changes and custom properties that no maintained library clears
whole. An anonymous feedback's file is named `attachment.<ext>`; an image is drawn again (turned upright first)
without EXIF, XMP, ICC profile, comments or text chunks; a PDF keeps its pages only (written into a new document:
no document information, XMP metadata, embedded files, outlines, form data, scripts or file identifier), and they
lose their own metadata, the private data of the programs that made them and the authors and dates of their
annotations. What a file still tells (the picture, the text, a PDF's layout and fonts) the form
says."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Response
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError

from app.core.errors import rule

MAX_PIXELS = 40_000_000  # a larger picture is refused before it is decoded (a small file can hold a huge one)
NAME_MAX = 120
JPEG_QUALITY = 90
TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Kind:
    media_type: str
    ext: str


PNG = Kind("image/png", "png")
JPEG = Kind("image/jpeg", "jpg")
PDF = Kind("application/pdf", "pdf")
TEXT = Kind("text/plain", "txt")
KINDS = (PNG, JPEG, PDF, TEXT)


@dataclass(frozen=True)
class Accepted:
    name: str
    media_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _refused(detail: str, type_: str) -> Exception:
    return rule(detail, "file", type_)


def sniff(data: bytes) -> Kind:
    """The file's type by its first bytes; plain text when it reads as UTF-8 without control characters."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"%PDF-"):
        return PDF
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.strip() and not TEXT_CONTROLS.search(text):
        return TEXT
    raise _refused("Only PNG, JPEG, PDF and plain text (UTF-8) files are accepted.", "file_type")


def file_name(uploaded: str, kind: Kind, *, anonymous: bool) -> str:
    """`attachment.<ext>` for an anonymous feedback; else the uploaded name without folders and control
    characters, at most NAME_MAX characters, ending in the type's extension."""
    if anonymous:
        return f"attachment.{kind.ext}"
    base = re.split(r"[\\/]", uploaded or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[:NAME_MAX - len(kind.ext) - 1].strip(" .") or "attachment"
    return f"{stem}.{kind.ext}"


def accept(data: bytes, uploaded_name: str, *, anonymous: bool, max_bytes: int) -> Accepted:
    """The file as it is kept, or a 422 at the field `file`: empty, too large, not an allowed type, or not
    readable as the type it claims to be by its content."""
    if not data:
        raise _refused("The file is empty.", "file_empty")
    if len(data) > max_bytes:
        raise _refused(f"The file is larger than {max_bytes} bytes.", "file_too_large")
    kind = sniff(data)
    if kind in (PNG, JPEG):
        data = _image(data, kind, clean=anonymous)
    elif kind == PDF:
        data = _pdf(data, clean=anonymous)
    return Accepted(file_name(uploaded_name, kind, anonymous=anonymous), kind.media_type, data)


def _image(data: bytes, kind: Kind, *, clean: bool) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in (("PNG",) if kind == PNG else ("JPEG", "MPO")):  # MPO: phones' JPEG with previews
                raise _refused("The file is not the image its first bytes say.", "file_unreadable")
            if im.width * im.height > MAX_PIXELS:
                raise _refused("The picture has too many pixels (at most 40 million).", "file_too_large")
            im.load()
            if not clean:
                return data
            upright = ImageOps.exif_transpose(im)  # the orientation is EXIF too: applied, then dropped
            transparency = upright.info.get("transparency")
            upright.info = {"transparency": transparency} if transparency is not None and kind == PNG else {}
            out = io.BytesIO()
            if kind == PNG:
                upright.save(out, "PNG", optimize=False)
            else:
                upright.save(out, "JPEG", quality=JPEG_QUALITY)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _refused("The picture cannot be read.", "file_unreadable") from exc


def _pdf(data: bytes, *, clean: bool) -> bytes:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise _refused("A protected (encrypted) PDF cannot be checked: send it without protection.",
                           "file_unreadable")
        if len(reader.pages) == 0:
            raise _refused("The PDF has no pages.", "file_unreadable")
        if not clean:
            return data
        # The pages alone, into a new document: what lives beside them (the document information, XMP
        # metadata, embedded files, outlines, form data, scripts, the file identifier the program that made it
        # wrote) is left behind, the way an image is drawn again.
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        writer.metadata = None  # not even the producer
        for page in writer.pages:
            for key in ("/Metadata", "/PieceInfo"):
                page.pop(key, None)
            resources = page.get("/Resources")
            xobjects = resources.get_object().get("/XObject") if resources is not None else None
            for ref in (xobjects.get_object().values() if xobjects is not None else ()):
                ref.get_object().pop("/Metadata", None)
            for annot in page.get("/Annots", None) or []:
                annot = annot.get_object()
                for key in ("/T", "/M", "/CreationDate", "/NM", "/RC"):
                    annot.pop(key, None)
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    except PyPdfError as exc:
        raise _refused("The PDF cannot be read.", "file_unreadable") from exc
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:  # pypdf on a broken file
        raise _refused("The PDF cannot be read.", "file_unreadable") from exc


def download(att: Any) -> Response:
    """A kept file as a download, never shown inline: `Content-Disposition: attachment` (the name in ASCII and,
    when it is not, as UTF-8 too, RFC 6266), `nosniff`, a sandboxing CSP, not cached."""
    ascii_name = att.name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != att.name:
        disposition += f"; filename*=UTF-8''{quote(att.name, safe='')}"
    media = f"{att.media_type}; charset=utf-8" if att.media_type == TEXT.media_type else att.media_type
    return Response(att.data, media_type=media, headers={
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "private, no-store"})
