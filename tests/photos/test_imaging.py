"""imaging.process with real files: upright pixels, every metadata field gone, bombs, non-images, polyglots and
oversized files refused with a message a practitioner can act on."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from practitioner.photos import imaging
from practitioner.photos.imaging import InvalidPhoto, process
from tests.photos import images

SECRETS = (images.SERIAL.encode(), images.MAKER_SECRET, images.XMP_SECRET.encode(), images.COMMENT_SECRET,
           images.PNG_TEXT_SECRET.encode(), images.ORIGINAL_DATE.encode(), b"TestMaker", b"TestPhone", b"TestOS")


def assert_clean(jpeg: bytes) -> None:
    """No EXIF, GPS, XMP, comment, colour profile or camera text left, in the decoded info or anywhere in the bytes."""
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(0x8825) == {}  # GPS
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "photoshop", "mp"} & set(image.info)
        assert image.applist == [("APP0", image.applist[0][1])] if image.applist else True  # JFIF header at most
    for marker in (b"Exif\x00", b"http://ns.adobe.com/xap", b"<x:xmpmeta", b"ICC_PROFILE", b"GPS", *SECRETS):
        assert marker not in jpeg, marker
    # No comment segment (0xFFFE) and no APPn segment other than JFIF's APP0 before the image data.
    head = jpeg[: jpeg.find(b"\xff\xda")]
    assert b"\xff\xfe" not in head and not any(bytes([0xFF, 0xE1 + n]) in head for n in range(15))


def corner_colours(jpeg: bytes) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The colours near the top-left, top-right and bottom-left corners."""
    with Image.open(io.BytesIO(jpeg)) as image:
        image = image.convert("RGB")
        w, h = image.size
        return image.getpixel((3, 3)), image.getpixel((w - 4, 3)), image.getpixel((3, h - 4))


def is_red(colour: tuple[int, ...]) -> bool:
    red, green, blue = colour[:3]
    return red > 180 and green < 90 and blue < 90


def test_the_phone_jpeg_really_carries_the_metadata():
    """The test files are what they claim: otherwise the cleanliness tests below would prove nothing."""
    data = images.phone_jpeg(orientation=6)
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        assert exif[0x0112] == 6 and exif.get_ifd(0x8825)[1] == "N"
        assert exif.get_ifd(0x8769)[0xA431] == images.SERIAL
    for secret in (images.SERIAL.encode(), images.MAKER_SECRET, images.XMP_SECRET.encode(), images.COMMENT_SECRET):
        assert secret in data


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_jpeg_is_turned_upright_and_stripped(orientation):
    processed = process(images.phone_jpeg(1600, 1200, orientation=orientation))
    assert (processed.width, processed.height) == (1600, 1200)
    top_left, top_right, bottom_left = corner_colours(processed.image_jpeg)
    assert is_red(top_left) and not is_red(top_right) and not is_red(bottom_left)
    assert is_red(corner_colours(processed.thumb_jpeg)[0])
    assert (processed.thumb_width, processed.thumb_height) == (480, 360)
    assert_clean(processed.image_jpeg)
    assert_clean(processed.thumb_jpeg)


def test_a_twelve_megapixel_phone_photo_is_kept_at_about_five_megapixels():
    processed = process(images.phone_jpeg(4032, 3024, orientation=6))
    assert (processed.width, processed.height) == (2560, 1920)  # upright (stored on its side), long side 2560
    assert is_red(corner_colours(processed.image_jpeg)[0])
    assert_clean(processed.image_jpeg)
    import hashlib

    assert processed.sha256 == hashlib.sha256(processed.image_jpeg).hexdigest()
    assert processed.thumb_sha256 == hashlib.sha256(processed.thumb_jpeg).hexdigest()


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_heic_is_read_turned_upright_and_stripped(orientation):
    data = images.phone_heic(1200, 900, orientation=orientation)
    assert data[4:12] == b"ftypheic"
    processed = process(data)
    assert (processed.width, processed.height) == (1200, 900)
    top_left, top_right, bottom_left = corner_colours(processed.image_jpeg)
    assert is_red(top_left) and not is_red(top_right) and not is_red(bottom_left)
    assert_clean(processed.image_jpeg)
    assert_clean(processed.thumb_jpeg)


@pytest.mark.parametrize("alpha", [False, True])
def test_png_text_chunks_and_exif_are_gone(alpha):
    data = images.png_with_text(alpha=alpha)
    assert images.PNG_TEXT_SECRET.encode() in data
    processed = process(data)
    assert (processed.width, processed.height) == (800, 600)
    assert is_red(corner_colours(processed.image_jpeg)[0])
    assert_clean(processed.image_jpeg)


def test_the_embedded_colour_profile_is_used_and_not_kept():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = images.phone_jpeg(800, 600, icc_profile=srgb)
    assert b"ICC_PROFILE" in data
    processed = process(data)
    assert_clean(processed.image_jpeg)
    assert is_red(corner_colours(processed.image_jpeg)[0])


def test_a_profile_with_other_primaries_changes_the_stored_colours(monkeypatch):
    """The pixels are converted through the embedded profile: swapping the profile's red and green primaries makes
    the red marker come out green in sRGB (dropping the profile instead would leave it red)."""
    data = images.phone_jpeg(800, 600, icc_profile=swapped_primaries_profile())
    top_left = corner_colours(process(data).image_jpeg)[0]
    assert top_left[1] > 150 and top_left[0] < 120, top_left


def swapped_primaries_profile() -> bytes:
    """An ICC v2 RGB display profile that is sRGB with the red and green primaries swapped."""
    import struct

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))

    curve = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", int(2.2 * 256)) + b"\0\0"
    text = b"desc" + b"\0" * 4 + struct.pack(">I", 8) + b"swapped\0" + b"\0" * (4 + 4 + 2 + 1 + 67)
    tags = [(b"desc", text), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.3851, 0.7169, 0.0971)),
            (b"gXYZ", xyz(0.4361, 0.2225, 0.0139)), (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text\0\0\0\0none\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        while len(data) % 4:
            data += b"\0"
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntr" + b"RGB " + b"XYZ " + b"\0" * 12
              + b"acsp" + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 8 + b"\0" * 4
              + struct.pack(">iii", round(0.9642 * 65536), 65536, round(0.8249 * 65536)) + b"\0" * 4)
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"hello, this is plain text, not a photo\n" * 10, "JPEG, PNG or HEIC"),
    (b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF", "JPEG, PNG or HEIC"),
    (b"<html><body><script>alert(1)</script></body></html>", "JPEG, PNG or HEIC"),
])
def test_non_images_are_refused_with_a_message(data, words):
    with pytest.raises(InvalidPhoto) as refused:
        process(data)
    assert words in str(refused.value)
    assert_plain_words(str(refused.value))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "BMP", "TIFF"])
def test_other_image_formats_are_refused(fmt):
    out = io.BytesIO()
    images.upright_picture(400, 300).save(out, fmt)
    with pytest.raises(InvalidPhoto, match="JPEG, PNG or HEIC"):
        process(out.getvalue())


def test_image_bombs_are_refused_before_decoding():
    with pytest.raises(InvalidPhoto) as refused:
        process(images.png_bomb(20_000, 20_000))  # 400 megapixels claimed in a few kilobytes
    assert "megapixels" in str(refused.value)
    assert_plain_words(str(refused.value))


def test_fifty_megapixels_is_refused_and_twelve_is_not():
    with pytest.raises(InvalidPhoto, match="50 megapixels"):
        process(images.png_bomb(8165, 6124))
    assert process(images.png_with_text(4032, 3024)).width == 2560


@pytest.mark.parametrize("make", [
    lambda: images.phone_jpeg(800, 600) + images.tiny_zip(),                      # JPEG + ZIP
    lambda: images.phone_jpeg(800, 600) + b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",  # JPEG + PDF
    lambda: images.png_with_text() + b"<html><script>alert(document.cookie)</script></html>",   # PNG + HTML
    lambda: images.insert_after_soi(images.phone_jpeg(800, 600), b"\xff\xfe\x00\x1d<script>alert(1)</script>xx"),  # script in a comment
    lambda: images.phone_heic(600, 450) + images.tiny_zip(),                       # HEIC + ZIP
])
def test_polyglots_are_refused(make):
    with pytest.raises(InvalidPhoto) as refused:
        process(make())
    assert "document or web page" in str(refused.value)
    assert_plain_words(str(refused.value))


def test_a_zip_behind_padding_is_found_by_its_end_record():
    with pytest.raises(InvalidPhoto, match="document or web page"):
        process(images.phone_jpeg(800, 600) + b"\x00" * 20_000 + images.tiny_zip())


def test_a_chance_match_deep_in_a_phones_video_trailer_is_not_a_polyglot():
    """A motion photo's video after the image: megabytes of data where '<svg' may occur by chance."""
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 50_000 + b"<SVG" + b"\x17" * 100_000
    assert process(images.phone_jpeg(800, 600) + video).width == 800


def test_harmless_trailing_bytes_are_dropped_with_the_rest():
    """A camera's own trailer after the image (for example a motion photo's video) is not a document: the photo is
    taken, and the trailer, like every byte of the original, is not kept."""
    data = images.phone_jpeg(800, 600) + b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 400
    processed = process(data)
    assert b"ftypmp42" not in processed.image_jpeg
    assert_clean(processed.image_jpeg)


def test_oversized_files_are_refused_before_decoding(monkeypatch):
    data = images.phone_jpeg(800, 600)
    data = data + b"\x00" * (imaging.MAX_BYTES + 1 - len(data))
    with pytest.raises(InvalidPhoto) as refused:
        process(data)
    assert "the limit is 25 MB" in str(refused.value)
    assert_plain_words(str(refused.value))


def test_cut_short_and_damaged_images_are_refused():
    data = images.phone_jpeg(800, 600)
    with pytest.raises(InvalidPhoto, match="cut short"):
        process(data[: len(data) // 2])
    png = images.png_with_text()
    with pytest.raises(InvalidPhoto):
        process(png[: len(png) - 40])
    with pytest.raises(InvalidPhoto):  # the PNG's first bytes with JPEG inside
        process(b"\x89PNG\r\n\x1a\n" + images.phone_jpeg(400, 300)[2:])


def test_tiny_images_are_refused():
    out = io.BytesIO()
    images.upright_picture(100, 80).save(out, "JPEG")
    with pytest.raises(InvalidPhoto, match="too small"):
        process(out.getvalue())


def assert_plain_words(message: str) -> None:
    """A message for people: no Python reprs, exception names or byte strings."""
    for fragment in ("Error", "Errno", "b'", "\\x", "{", "PIL", "Traceback", "None"):
        assert fragment not in message, (fragment, message)
    assert message.endswith(".")
