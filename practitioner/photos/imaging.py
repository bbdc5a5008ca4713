"""What happens to a photo's bytes on arrival: checked, turned upright, colour kept, every metadata field gone.

docs/photography.md ("Handling the image") explains the rules; in short:

- Only JPEG, PNG and HEIC/HEIF are taken, judged by their first bytes and again by the decoder, which
  must agree. Anything else, an image bomb, a file over MAX_BYTES or MAX_PIXELS, an image that does
  not decode to its end, and a file that is also a document or script (a polyglot: a zip, PDF or
  HTML page hidden after or inside the image) is refused with a message the practitioner can act on.
- The original bytes are never kept: the pixels are decoded (a JPEG at a reduced scale when that is
  still larger than what is kept), turned upright from the EXIF orientation, converted to sRGB with
  the embedded colour profile, scaled to STORED_LONG_SIDE and re-encoded as a plain JPEG with no
  EXIF, XMP, comment or colour profile (an untagged JPEG is read as sRGB by browsers and by the PDF
  renderer). A THUMB_LONG_SIDE thumbnail is made from the kept image.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, UnidentifiedImageError

from practitioner.errors import DomainError

try:  # HEIC/HEIF (what iPads and iPhones write); registered once, on import
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a runtime dependency (pyproject.toml)
    HEIF_SUPPORTED = False

MAX_BYTES = 25 * 1024 * 1024          # a 24 MP camera JPEG is ~12 MB; a 12 MP PNG ~20 MB
MAX_PIXELS = 40_000_000               # a 12 MP phone (4032x3024) and a 24 MP camera pass; 50 MP is refused
MAX_SIDE = 12_000
MIN_SIDE = 240                        # smaller than that is no clinical photo
STORED_LONG_SIDE = 2560               # about 5 megapixels at 4:3: ample for medical photography
# The thumbnail is as large as the record export prints a photo (photos.export.EXPORT_LONG_SIDE), so the export
# embeds it as it is instead of decoding and reducing every kept image at each first issue (about 20 ms a photo:
# bench/bench_export_photos.py). Pages size thumbnails by CSS, so a larger one only makes them sharper on a tablet.
THUMB_LONG_SIDE = 480
QUALITY = 88
THUMB_QUALITY = 80

# The first bytes of each accepted format. HEIF is an ISO media file: 'ftyp' at offset 4, then a brand.
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}

# A document or program hidden in an image (after its end, or in a comment or metadata segment).
_HIDDEN_DOCUMENT_MARKS = (b"pk\x03\x04", b"pk\x05\x06", b"%pdf-", b"<html", b"<!doctype", b"<script", b"<svg",
                          b"<iframe", b"<?php", b"<body", b"javascript:", b"rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c")
_HIDDEN_IN_METADATA = tuple(mark for mark in _HIDDEN_DOCUMENT_MARKS if mark.startswith((b"<", b"%", b"javascript")))

# EXIF orientation -> the transpose that makes the pixels upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_PROFILE_MODES = {"RGB ": ("RGB",), "GRAY": ("L",), "CMYK": ("CMYK",)}

NOT_AN_IMAGE = "This file is not a photo Practitioner can take. Choose a JPEG, PNG or HEIC (iPhone, iPad) image."


class InvalidPhoto(DomainError):
    """The upload is not a usable photo; the message says why and what to do."""


@dataclass(frozen=True)
class Processed:
    """A photo as kept: the re-encoded JPEG and its thumbnail, their sizes and SHA-256 hashes."""

    image_jpeg: bytes
    thumb_jpeg: bytes
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    sha256: str
    thumb_sha256: str


def sniff(data: bytes) -> str | None:
    """The format the file's first bytes declare: 'JPEG', 'PNG', 'HEIF', or None for anything else."""
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def _jpeg_structure(data: bytes) -> tuple[int, list[bytes]]:
    """Walk a JPEG's segments to its end-of-image marker: (the offset just after it, the metadata segments)."""
    size, i, metadata = len(data), 2, []
    while True:
        if i >= size or data[i] != 0xFF:
            raise InvalidPhoto("The JPEG is damaged or cut short. Take or export the photo again.")
        while i < size and data[i] == 0xFF:  # fill bytes before a marker
            i += 1
        if i >= size:
            raise InvalidPhoto("The JPEG is cut short. Take or export the photo again.")
        marker = data[i]
        i += 1
        if marker == 0xD9:  # end of image
            return i, metadata
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            continue
        length = int.from_bytes(data[i:i + 2], "big")
        if length < 2 or i + length > size:
            raise InvalidPhoto("The JPEG is damaged or cut short. Take or export the photo again.")
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn (EXIF, XMP, ICC, maker data) and comments
            metadata.append(data[i + 2:i + length])
        i += length
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= size:
                    raise InvalidPhoto("The JPEG is cut short. Take or export the photo again.")
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:  # a stuffed 0xFF, or a restart marker
                    i = j + 2
                elif following == 0xFF:
                    i = j + 1
                else:
                    i = j
                    break


def _png_structure(data: bytes) -> tuple[int, list[bytes]]:
    """Walk a PNG's chunks to IEND: (the offset just after it, the text and EXIF chunks)."""
    size, i, metadata = len(data), 8, []
    while True:
        if i + 12 > size:
            raise InvalidPhoto("The PNG is damaged or cut short. Export the image again.")
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        end = i + 12 + length
        if end > size:
            raise InvalidPhoto("The PNG is damaged or cut short. Export the image again.")
        if kind in (b"tEXt", b"iTXt", b"eXIf"):
            metadata.append(data[i + 8:i + 8 + length])
        i = end
        if kind == b"IEND":
            return i, metadata


def _heif_structure(data: bytes) -> tuple[int, list[bytes]]:
    """Walk a HEIF file's top-level boxes: (the offset where they end, no metadata: EXIF and XMP are re-encoded away)."""
    size, i = len(data), 0
    while i + 8 <= size:
        box = int.from_bytes(data[i:i + 4], "big")
        if box == 1 and i + 16 <= size:
            box = int.from_bytes(data[i + 8:i + 16], "big")
        elif box == 0:
            return size, []
        kind = data[i + 4:i + 8]
        if box < 8 or i + box > size or not kind.isascii() or not kind.strip(b" ").isalnum():
            break
        i += box
    return i, []


def _refuse_hidden_documents(data: bytes, declared: str) -> None:
    """Refuse a file that is also something else: a document or script after the image's end, or in its metadata."""
    end, metadata = {"JPEG": _jpeg_structure, "PNG": _png_structure, "HEIF": _heif_structure}[declared](data)
    # Where a reader finds a hidden document: at the start of what follows the image, or (a zip's end record) in
    # the file's last 64 KB. Looking only there keeps a phone's own trailer (a motion photo's video) from being
    # refused for a chance match somewhere in its megabytes.
    trailer = data[end:]
    head, tail = trailer[:4096].lower(), trailer[-65_557:]
    hidden = any(mark in head for mark in _HIDDEN_DOCUMENT_MARKS) or b"PK\x05\x06" in tail
    hidden = hidden or any(mark in segment.lower() for segment in metadata for mark in _HIDDEN_IN_METADATA)
    if hidden:
        raise InvalidPhoto("This file holds a document or web page as well as a picture, so it is refused. "
                           "Take the photo again, or export it from the camera's own app as a JPEG.")


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB pixels in sRGB: through the embedded colour profile when there is a usable one, flattened onto white."""
    icc = image.info.get("icc_profile")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, "white")
        image.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if image.mode in _PROFILE_MODES.get(source.profile.xcolor_space, ()):
                return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB",
                                                 renderingIntent=ImageCms.Intent.PERCEPTUAL)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels are taken as sRGB, as a browser would
    return image if image.mode == "RGB" else image.convert("RGB")


def _jpeg(image: Image.Image, quality: int) -> bytes:
    """A plain baseline JPEG: no EXIF, XMP, comment or colour profile (an untagged JPEG means sRGB)."""
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=False, progressive=False)
    return out.getvalue()


def _fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size that fits `long_side` keeping the proportions (never enlarged)."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_size(byte_count: int) -> None:
    """Refuse a file over MAX_BYTES before it is read (the upload route also caps the request body)."""
    if byte_count > MAX_BYTES:
        raise InvalidPhoto(f"The file is {byte_count / 1_048_576:.1f} MB; the limit is {MAX_BYTES / 1_048_576:.0f} MB. "
                           "Set the camera to a smaller picture size, or export the photo as a JPEG.")


def process(data: bytes) -> Processed:
    """Check an uploaded photo and re-encode it as kept: upright, sRGB, at most STORED_LONG_SIDE, no metadata."""
    if not data:
        raise InvalidPhoto("The file is empty. Take the photo again, or choose another file.")
    check_size(len(data))
    declared = sniff(data)
    if declared is None:
        raise InvalidPhoto(NOT_AN_IMAGE)
    _refuse_hidden_documents(data, declared)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[declared]) as image:
                decoded = "HEIF" if image.format in ("HEIF", "HEIC", "AVIF") else image.format
                if decoded != declared:
                    raise InvalidPhoto(NOT_AN_IMAGE)
                width, height = image.size
                # Judge the size from the header before decoding a single pixel (image bombs).
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise InvalidPhoto(f"The photo is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); "
                                       f"the limit is {MAX_PIXELS // 1_000_000} megapixels. Set the camera to a smaller "
                                       "picture size (12 megapixels is plenty).")
                if min(width, height) < MIN_SIDE:
                    raise InvalidPhoto(f"The image is only {width}×{height} pixels, too small for a clinical photo. "
                                       f"Use one at least {MIN_SIDE} pixels a side.")
                if declared == "PNG":
                    image.verify()  # chunk checksums; a verified image must be opened again to be decoded
            with Image.open(io.BytesIO(data), formats=[declared]) as image:
                target = _fit(width, height, STORED_LONG_SIDE)
                if declared == "JPEG":
                    image.draft("RGB", target)  # decode at 1/2, 1/4 or 1/8 scale when that still covers the target
                image.load()
                orientation = image.getexif().get(0x0112, 1)
                picture = _to_srgb(image)
    except InvalidPhoto:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidPhoto(f"The image claims far too many pixels to be a photo. The limit is "
                           f"{MAX_PIXELS // 1_000_000} megapixels.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidPhoto("The file could not be read as a whole photo: it may be damaged or cut short. "
                           "Take the photo again, or choose another file.") from exc
    if picture.size != target:
        # Bicubic: as sharp as Lanczos to the eye at these ratios (about 1.6 for a 12 MP photo), a quarter less CPU.
        picture = picture.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
    if orientation in _UPRIGHT:
        picture = picture.transpose(_UPRIGHT[orientation])
    image_jpeg = _jpeg(picture, QUALITY)
    thumb = picture.resize(_fit(*picture.size, THUMB_LONG_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb_jpeg = _jpeg(thumb, THUMB_QUALITY)
    return Processed(image_jpeg=image_jpeg, thumb_jpeg=thumb_jpeg, width=picture.width, height=picture.height,
                     thumb_width=thumb.width, thumb_height=thumb.height,
                     sha256=hashlib.sha256(image_jpeg).hexdigest(), thumb_sha256=hashlib.sha256(thumb_jpeg).hexdigest())
