"""A feedback's one file: on the form and by the API (the receipt code), its type told by its content, at most
FEEDBACK_ATTACHMENT_MAX_BYTES; an anonymous one named `attachment.<ext>` and cleaned of its metadata (a JPEG's
EXIF, a PNG's text chunks, a PDF's author); downloads for the triagers and, by the code, for the sender, always
as an attachment."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Text
from pypdf.generic import ArrayObject, ByteStringObject, NameObject, TextStringObject
from pypdf.xmp import XmpInformation
from sqlmodel import select

from app.core.audit import AuditRecord
from app.core.config import get_settings
from app.core.limits import FORM_ROOM
from app.feedback.models import Feedback, FeedbackAttachment
from tests.factories import Factory
from tests.helpers import field_errors

API = "/api/v1"
SECRET = "Zhang San"  # what the files' metadata say of their maker


def _jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x013B] = SECRET  # Artist
    exif[0x0112] = 6  # Orientation: turned
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "JPEG", exif=exif, comment=SECRET.encode())
    return out.getvalue()


def _png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    info.add_itxt("Comment", "张三的手机截图")
    out = io.BytesIO()
    Image.new("RGB", (30, 30), (0, 90, 200)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


ORIGINAL_ID = b"ZhangSan-PC-file"


def _pdf_with_author() -> bytes:
    """A PDF that names its sender in each place a program puts it: the document information, XMP metadata, an
    embedded file, an outline entry, an annotation's author and the file identifier."""
    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.add_metadata({"/Author": SECRET, "/Creator": "WPS for ZhangSan-PC"})
    w.xmp_metadata = XmpInformation.create()
    w.xmp_metadata.dc_creator = [SECRET]
    w.add_attachment("ZhangSan-notes.txt", b"ZhangSan")
    w.add_outline_item(title="ZhangSan", page_number=0)
    w.add_annotation(0, Text(rect=(10, 10, 40, 40), text="ok"))
    w.pages[0]["/Annots"][0].get_object()[NameObject("/T")] = TextStringObject(SECRET)
    w._ID = ArrayObject([ByteStringObject(ORIGINAL_ID), ByteStringObject(ORIGINAL_ID)])  # noqa: SLF001
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()



def _code(html: str) -> str:
    return re.search(r'<code id="receipt-code">([^<]+)</code>', html).group(1)


def _count(session, model) -> int:  # noqa: ANN001
    return session.exec(select(sa.func.count()).select_from(model)).one()


def _rows(session) -> dict[str, set[tuple]]:  # noqa: ANN001
    conn = session.connection()
    return {t: {tuple(map(str, r)) for r in conn.execute(sa.text(f'SELECT * FROM "{t}"'))}  # noqa: S608
            for t in sa.inspect(conn).get_table_names() if t != "alembic_version"}


def _form(pid: int, **extra: str) -> dict[str, str]:
    return {"process_id": str(pid), "category": "quality", "text": "截图里的报错每天都出现", **extra}


def test_an_anonymous_file_is_renamed_and_loses_its_exif(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    original = _jpeg_with_exif()
    assert b"SecretCam" in original and Image.open(io.BytesIO(original)).getexif()
    before = _rows(session)
    r = client.post("/feedback/anonymous", data=_form(pid), headers=Factory.bearer(team.outsider),
                    files={"file": ("张三的照片.jpg", original, "image/jpeg")})
    assert r.status_code == 200, r.text
    code = _code(r.text)
    after = _rows(session)
    written = {t: after[t] - before.get(t, set()) for t in after if after[t] - before.get(t, set())}
    assert set(written) == {"feedback", "feedback_throttle", "feedback_attachments"}, written  # no audit record
    for rows in written.values():
        for row in rows:
            assert not any(m in v for m in ("张三", team.outsider.email, "testclient") for v in row), row

    att = session.exec(select(FeedbackAttachment)).one()
    assert (att.name, att.media_type, att.size) == ("attachment.jpg", "image/jpeg", len(att.data))
    assert b"SecretCam" not in att.data and SECRET.encode() not in att.data and b"Exif" not in att.data
    kept = Image.open(io.BytesIO(att.data))
    assert kept.format == "JPEG" and not kept.getexif() and "comment" not in kept.info
    assert kept.size == (20, 40)  # turned upright by its orientation before that was dropped

    # The sender downloads it by the code (API and page), without logging in; always as an attachment.
    for r in (client.post(f"{API}/feedback/receipt/attachment", json={"code": code}),
              client.post("/feedback/receipt/attachment", data={"code": code})):
        assert r.status_code == 200, r.text
        assert r.content == att.data and r.headers["content-type"] == "image/jpeg"
        assert r.headers["content-disposition"] == 'attachment; filename="attachment.jpg"'
        assert r.headers["x-content-type-options"] == "nosniff" and "sandbox" in r.headers["content-security-policy"]
    r = client.post("/feedback/receipt", data={"code": code})
    assert r.status_code == 200 and "attachment.jpg" in r.text and 'action="/feedback/receipt/attachment"' in r.text
    assert client.post(f"{API}/feedback/receipt/attachment", json={"code": "nope"}).status_code == 404


@pytest.mark.parametrize(("name", "make", "media"), [("截图.png", _png_with_text, "image/png"),
                                                     ("报告.pdf", _pdf_with_author, "application/pdf")])
def test_an_anonymous_png_or_pdf_loses_its_text_chunks_or_author(client, session, team, name, make, media):  # noqa: ANN001
    r = client.post("/feedback/anonymous", data=_form(team.initiative.process_id), headers=Factory.bearer(team.member),
                    files={"file": (name, make(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    att = session.exec(select(FeedbackAttachment)).one()
    assert att.media_type == media and att.name == f"attachment.{media.rsplit('/', 1)[1]}"
    assert SECRET.encode() not in att.data and "张三".encode() not in att.data
    if media == "image/png":
        assert Image.open(io.BytesIO(att.data)).info == {}
    else:
        source = PdfReader(io.BytesIO(make()))
        assert source.xmp_metadata and list(source.attachments) and source.outline  # as sent
        assert source.trailer["/ID"][0].original_bytes == ORIGINAL_ID
        reader = PdfReader(io.BytesIO(att.data))
        assert not reader.metadata and reader.xmp_metadata is None and not list(reader.attachments)
        assert not reader.outline and ORIGINAL_ID not in [i.original_bytes for i in reader.trailer.get("/ID", [])]
        assert len(reader.pages) == 1 and reader.pages[0]["/Annots"][0].get_object().get("/T") is None
        assert b"ZhangSan" not in att.data and ORIGINAL_ID.hex().encode() not in att.data


def test_a_named_file_keeps_its_name_and_the_triagers_download_it(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    text = "步骤3：财务复核\n系统报错 E-102\n".encode()
    r = client.post("/feedback", data=_form(pid), headers=Factory.bearer(team.outsider),
                    files={"file": ("C:\\Users\\li\\报错记录.html", text, "text/html")})
    assert r.status_code == 200, r.text
    fb = session.exec(select(Feedback)).one()
    att = session.exec(select(FeedbackAttachment)).one()
    assert (att.name, att.media_type, att.data) == ("报错记录.txt", "text/plain", text)  # told by content
    audit = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "feedback_attachment")).one()
    assert audit.actor_id == team.outsider.id and audit.after["sha256"] == att.sha256

    r = client.get(f"/processes/{pid}/feedback", headers=Factory.bearer(team.leader))
    assert f'href="/api/v1/feedback/{fb.id}/attachment"' in r.text and "报错记录.txt" in r.text
    r = client.get(f"{API}/feedback/{fb.id}", headers=Factory.bearer(team.leader))
    assert r.json()["attachment"] == {"name": "报错记录.txt", "media_type": "text/plain", "size": len(text),
                                      "sha256": att.sha256}
    url = f"{API}/feedback/{fb.id}/attachment"
    for user in (team.leader, team.it, team.admin):
        r = client.get(url, headers=Factory.bearer(user))
        assert r.status_code == 200 and r.content == text
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.headers["content-disposition"] == (
            "attachment; filename=\"____.txt\"; filename*=UTF-8''%E6%8A%A5%E9%94%99%E8%AE%B0%E5%BD%95.txt")
        assert r.headers["x-content-type-options"] == "nosniff"
    for user in (team.outsider, team.viewer, team.other_lead):  # the sender too: theirs is the receipt code
        assert client.get(url, headers=Factory.bearer(user)).status_code == 403
    assert client.get(url).status_code == 401


def test_the_api_attaches_one_file_by_the_receipt_code(client, session, team, factory):  # noqa: ANN001
    r = client.post(f"{API}/feedback/anonymous", headers=Factory.bearer(team.member),
                    json={"process_id": team.initiative.process_id, "category": "risk", "text": "见截图"})
    code, fid = r.json()["receipt_code"], r.json()["id"]
    url, h = f"{API}/feedback/attachment", Factory.bearer(team.member)
    audits = _count(session, AuditRecord)
    r = client.post(url, data={"code": code}, files={"file": ("me.png", _png_with_text(), "image/png")}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "attachment.png" and _count(session, AuditRecord) == audits  # anonymous: none
    r = client.post(url, data={"code": code}, files={"file": ("b.png", _png_with_text(), "image/png")}, headers=h)
    assert r.status_code == 409
    r = client.post(url, data={"code": "nope"}, files={"file": ("b.png", _png_with_text(), "image/png")}, headers=h)
    assert r.status_code == 404
    token = factory.service_token(["write"])
    r = client.post(url, data={"code": code}, files={"file": ("b.png", b"x", "image/png")},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert client.post(url, data={"code": code}, files={"file": ("b.png", b"x", "image/png")}).status_code == 401
    r = client.get(f"{API}/feedback/{fid}", headers=Factory.bearer(team.leader))
    assert r.json()["attachment"]["name"] == "attachment.png"


def test_wrong_types_and_broken_files_are_refused_at_the_field_with_nothing_written(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    docx = b"PK\x03\x04" + b"\x00" * 200  # a DOCX or XLSX is a ZIP: its authors are not removed, so not taken
    for name, data, kind in (("a.gif", b"GIF89a" + b"\x00" * 50, "file_type"), ("a.docx", docx, "file_type"),
                             ("a.exe", b"MZ\x90\x00\x03", "file_type"), ("a.png", b"\x89PNG\r\n\x1a\nbroken", "file_unreadable"),
                             ("a.pdf", b"%PDF-1.7 not really", "file_unreadable"), ("a.txt", b"", "file_empty")):
        for path in ("/feedback", "/feedback/anonymous"):
            r = client.post(path, data=_form(pid), files={"file": (name, data, "image/png")},
                            headers={**Factory.bearer(team.member), "Accept-Language": "en"})
            assert r.status_code == 422, (name, r.text)
            assert "file" in field_errors(r.text), (name, field_errors(r.text))
        r = client.post(f"{API}/feedback", headers=Factory.bearer(team.member),
                        json={"process_id": pid, "category": "risk", "text": "x"})
        code = r.json()["receipt_code"]
        r = client.post(f"{API}/feedback/attachment", data={"code": code}, files={"file": (name, data, "image/png")},
                        headers=Factory.bearer(team.member))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
        assert r.json()["errors"][0]["type"] == kind, (name, r.json())
    assert _count(session, FeedbackAttachment) == 0
    assert _count(session, Feedback) == 6  # the API's posts without their file; none of the pages'
    # Another field wrong with a good file: the form says to choose the file again.
    r = client.post("/feedback", data=_form(pid, text=""), files={"file": ("a.png", _png_with_text(), "image/png")},
                    headers={**Factory.bearer(team.member), "Accept-Language": "en"})
    assert r.status_code == 422 and set(field_errors(r.text)) == {"text", "file"}


def test_too_large_a_file_is_refused_with_nothing_written(client, session, team, monkeypatch):  # noqa: ANN001
    monkeypatch.setattr(get_settings(), "feedback_attachment_max_bytes", 4096)
    pid = team.initiative.process_id
    text = ("很长的日志。" * 400).encode()  # 7,200 bytes: over the file's limit, within the form's room
    assert 4096 < len(text) < 4096 + FORM_ROOM
    r = client.post("/feedback/anonymous", data=_form(pid), files={"file": ("log.txt", text, "text/plain")},
                    headers={**Factory.bearer(team.member), "Accept-Language": "en"})
    assert r.status_code == 422 and field_errors(r.text)["file"] == "The file is larger than 4 KiB."
    r = client.post(f"{API}/feedback/anonymous", headers=Factory.bearer(team.member),
                    json={"process_id": pid, "category": "risk", "text": "x"})
    code = r.json()["receipt_code"]
    r = client.post(f"{API}/feedback/attachment", data={"code": code}, files={"file": ("log.txt", text, "text/plain")},
                    headers=Factory.bearer(team.member))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    # Over the file and the form's room: refused before the body is read.
    big = b"x" * (4096 + FORM_ROOM + 1)
    for path in ("/feedback", f"{API}/feedback/attachment"):
        r = client.post(path, data={**_form(pid), "code": code}, files={"file": ("log.txt", big, "text/plain")},
                        headers=Factory.bearer(team.member))
        assert r.status_code == 413, (path, r.text)
    assert _count(session, FeedbackAttachment) == 0 and _count(session, Feedback) == 1
