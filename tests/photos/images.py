"""Real image files for the photo tests: phone-style JPEGs with EXIF (orientation, GPS, serial numbers, the
original date, a maker note), XMP and a comment; a HEIC made with pillow-heif; PNGs with text chunks.

Each picture has a red marker in its top-left corner *as it should be seen* (after the EXIF orientation is
applied), so a test can tell whether the stored pixels are upright.
"""

from __future__ import annotations

import io
import zlib

from PIL import Image, ImageDraw

SERIAL = "SN-TESTCAM-0042-XYZ"
MAKER_SECRET = b"MAKERNOTE-SECRET-7731"
XMP_SECRET = "XMP-SECRET-CREATOR"
COMMENT_SECRET = b"COMMENT-SECRET-5511"
PNG_TEXT_SECRET = "PNG-TEXT-SECRET-9321"
ORIGINAL_DATE = "2019:07:14 08:15:00"
GPS = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 40.0), 5: 0, 6: 35.0}
RED = (230, 20, 20)
SKIN = (205, 160, 140)

# The transpose that turns an upright picture into what a camera stores for each EXIF orientation
# (the inverse of what a viewer does to show it).
_STORED_AS = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def upright_picture(width: int, height: int) -> Image.Image:
    """A skin-toned picture with a red square in its top-left corner (a tenth of the width)."""
    image = Image.new("RGB", (width, height), SKIN)
    side = max(8, width // 10)
    ImageDraw.Draw(image).rectangle((0, 0, side, side), fill=RED)
    return image


def camera_exif(orientation: int = 1) -> Image.Exif:
    """EXIF as a phone writes it: make, model, orientation, original date, body serial, maker note, GPS."""
    exif = Image.Exif()
    exif[0x010F] = "TestMaker"            # Make
    exif[0x0110] = "TestPhone 12"         # Model
    exif[0x0112] = orientation            # Orientation
    exif[0x0132] = ORIGINAL_DATE          # DateTime
    exif[0x0131] = "TestOS 17.1"          # Software
    details = exif.get_ifd(0x8769)        # the Exif IFD
    details[0x9003] = ORIGINAL_DATE       # DateTimeOriginal
    details[0x9004] = ORIGINAL_DATE       # DateTimeDigitized
    details[0xA431] = SERIAL              # BodySerialNumber
    details[0xA435] = SERIAL + "-LENS"    # LensSerialNumber
    details[0x927C] = MAKER_SECRET        # MakerNote
    exif.get_ifd(0x8825).update(GPS)      # GPS IFD
    return exif


def _xmp_segment() -> bytes:
    packet = ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
              '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
              f'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="{XMP_SECRET}"/></rdf:RDF></x:xmpmeta>'
              '<?xpacket end="w"?>').encode()
    body = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    return b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body


def _comment_segment(text: bytes) -> bytes:
    return b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text


def insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    """The JPEG with extra segments straight after its start-of-image marker."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def phone_jpeg(width: int = 1600, height: int = 1200, *, orientation: int = 1, quality: int = 90,
               noise: bool = False, icc_profile: bytes | None = None) -> bytes:
    """A phone-style JPEG of an upright width x height picture, stored rotated for `orientation`, full of metadata.

    `noise` fills the picture with grain so it compresses like a real photo (for the speed bench).
    """
    picture = upright_picture(width, height)
    if noise:
        grain = Image.effect_noise((width, height), 40).convert("RGB")
        picture = Image.blend(picture, grain, 0.25)
        ImageDraw.Draw(picture).rectangle((0, 0, max(8, width // 10), max(8, width // 10)), fill=RED)
    transpose = _STORED_AS[orientation]
    stored = picture.transpose(transpose) if transpose is not None else picture
    out = io.BytesIO()
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    stored.save(out, "JPEG", quality=quality, exif=camera_exif(orientation).tobytes(), **extra)
    return insert_after_soi(out.getvalue(), _xmp_segment(), _comment_segment(COMMENT_SECRET + b" " + SERIAL.encode()))


def phone_heic(width: int = 1200, height: int = 900, *, orientation: int = 1) -> bytes:
    """A HEIC (as iPhones write) with the same EXIF and XMP, made with pillow-heif."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    picture = upright_picture(width, height)
    transpose = _STORED_AS[orientation]
    stored = picture.transpose(transpose) if transpose is not None else picture
    out = io.BytesIO()
    xmp = _xmp_segment()[4 + len(b"http://ns.adobe.com/xap/1.0/\x00"):]
    stored.save(out, "HEIF", exif=camera_exif(orientation).tobytes(), xmp=xmp, quality=80)
    return out.getvalue()


def png_with_text(width: int = 800, height: int = 600, *, alpha: bool = False) -> bytes:
    """A PNG with tEXt, zTXt and iTXt chunks (author, location, date) and, if asked, transparency."""
    from PIL.PngImagePlugin import PngInfo

    picture = upright_picture(width, height)
    if alpha:
        picture = picture.convert("RGBA")
        picture.putpixel((width - 1, height - 1), (0, 0, 0, 0))
    info = PngInfo()
    info.add_text("Author", PNG_TEXT_SECRET)
    info.add_text("Location", "51.5012 N, 0.1278 W", zip=True)
    info.add_itxt("Comment", SERIAL, lang="en")
    out = io.BytesIO()
    picture.save(out, "PNG", pnginfo=info, exif=camera_exif(1).tobytes())
    return out.getvalue()


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb): one compressed row of zeros."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    rows = zlib.compress(b"\x00" * (1 + width * 3), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def tiny_zip() -> bytes:
    """A small valid zip archive (the tail of a JPEG+ZIP polyglot)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<html><script>alert(1)</script></html>")
    return out.getvalue()
