"""Runs in the PDF render process: what WeasyPrint 66 leaves out of a tagged PDF/A-3u for it to be PDF/UA-1 too.

WeasyPrint writes one PDF variant at a time ('pdf/a-3u' or 'pdf/ua-1'); the documents are both. With
`pdf_variant='pdf/a-3u'` and `pdf_tags=True` it already writes the structure tree, /MarkInfo, /Lang,
the title in the XMP (dc:title) and /ViewerPreferences /DisplayDocTitle. Three things remain, done
here on WeasyPrint's own PDF objects before they are written (its `finisher` and metadata hooks,
no second PDF library):

- `rdf_metadata`: the XMP also says `pdfuaid:part="1"` (PDF/UA-1 identification, ISO 14289-1 5), with
  the PDF/A extension schema that describes that property (else the file is no longer PDF/A);
- `header_scopes`: every table header cell's structure element gets /Scope /Row or /Column, from
  the HTML `scope` attribute (WeasyPrint reads it for the cells' /Headers but does not write it);
- `margin_artifacts`: the running header and footer (page margin boxes: clinic name, document
  title, "Page x of y") become /Artifact /Pagination marked content. WeasyPrint marks their text
  with MCIDs whose structure elements it leaves out of the tree (PDF 1.7 has no artifact
  structure element), so that text was neither real content nor an artifact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PDFUA_NAMESPACE = "http://www.aiim.org/pdfua/ns/id/"
# PDF/A admits an XMP property outside its predefined schemas only if the XMP describes that schema
# (ISO 19005-3 6.6.2.3; veraPDF 6.6.2.3.1-1 and -2): this is the PDF/UA identification schema's description.
_PDFUA_EXTENSION_SCHEMA = f"""<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" \
xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
<pdfaSchema:namespaceURI>{PDFUA_NAMESPACE}</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
<pdfaProperty:name>part</pdfaProperty:name>
<pdfaProperty:valueType>Integer</pdfaProperty:valueType>
<pdfaProperty:category>internal</pdfaProperty:category>
<pdfaProperty:description>Indicates which part of ISO 14289 (PDF/UA) the file follows</pdfaProperty:description>
</rdf:li></rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>"""
_SCOPES = {"row": "/Row", "rowgroup": "/Row", "col": "/Column", "colgroup": "/Column"}


def rdf_metadata(metadata: Any, variant: str, version: int, conformance: str | None) -> bytes:
    """WeasyPrint's XMP (PDF/A identification, title, ...) plus the PDF/UA-1 identification and its schema's description.

    Set as `document.metadata.generate_rdf_metadata`, WeasyPrint's hook for the XMP packet.
    """
    from weasyprint.pdf.metadata import generate_rdf_metadata

    xml = generate_rdf_metadata(metadata, variant, version, conformance)
    closing = b"</rdf:RDF>"
    if not xml.endswith(closing):  # ElementTree writes the registered rdf prefix; anything else is a WeasyPrint change
        raise RuntimeError("WeasyPrint's XMP metadata no longer ends with </rdf:RDF>: cannot add the PDF/UA identification")
    identification = f'<rdf:Description xmlns:pdfuaid="{PDFUA_NAMESPACE}" rdf:about="" pdfuaid:part="1" />'.encode()
    return xml[: -len(closing)] + identification + _PDFUA_EXTENSION_SCHEMA.encode() + closing


def _boxes(box: Any) -> Iterator[Any]:
    box = getattr(box, "_box", box)  # an absolutely positioned box's placeholder
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(child)


def header_scopes(document: Any, pdf: Any) -> None:
    """Give each /TH structure element /A << /O /Table /Scope /Row|/Column >> from its cell's scope attribute.

    A header without a scope is a column header, as WeasyPrint reads it for the cells' /Headers.
    Run before the header ids are renumbered: WeasyPrint's /ID is the id() of the cell's box.
    """
    import pydyf

    scopes: dict[str, str] = {}
    for page in document.pages:
        for box in _boxes(page._page_box):
            if getattr(box, "element_tag", None) == "th" and box.element is not None:
                scopes[str(id(box))] = _SCOPES.get(str(box.element.attrib.get("scope", "")).lower(), "/Column")
    for item in pdf.objects:
        if isinstance(item, dict) and item.get("Type") == "/StructElem" and item.get("S") == "/TH":
            scope = scopes.get(str(item["ID"].string), "/Column") if "ID" in item else "/Column"
            item["A"] = pydyf.Dictionary({"O": "/Table", "Scope": scope})


def _number(reference: Any) -> int | None:
    """The object number of a pydyf reference (b'12 0 R'), None for anything else (an MCID, null)."""
    if isinstance(reference, (bytes, str)):
        text = reference.decode() if isinstance(reference, bytes) else reference
        parts = text.split()
        if len(parts) == 3 and parts[2] == "R" and parts[0].isdigit():
            return int(parts[0])
    return None


def _reachable(pdf: Any, root: Any) -> set[int]:
    seen: set[int] = set()
    pending = [_number(kid) for kid in root.get("K", ())]
    while pending:
        number = pending.pop()
        if number is None or number in seen:
            continue
        seen.add(number)
        element = pdf.objects[number]
        if isinstance(element, dict) and element.get("Type") == "/StructElem":
            pending.extend(_number(kid) for kid in element.get("K", ()))
    return seen


def _resolve(pdf: Any, value: Any) -> Any:
    number = _number(value)
    return pdf.objects[number] if number is not None else value


def _streams(pdf: Any, stream: Any, resources: Any, seen: set[int]) -> Iterator[Any]:
    """The stream and the form XObjects it draws (b'/Name Do'), recursively."""
    yield stream
    names = [item[1:-3] for item in stream.stream if isinstance(item, bytes) and item.startswith(b"/") and item.endswith(b" Do")]
    if not names:
        return
    own = _resolve(pdf, getattr(stream, "extra", {}).get("Resources"))
    resources = own if isinstance(own, dict) else resources
    xobjects = _resolve(pdf, resources.get("XObject", {})) if isinstance(resources, dict) else {}
    for name in names:
        number = _number(xobjects.get(name.decode()))
        if number is not None and number not in seen:
            seen.add(number)
            drawn = pdf.objects[number]
            if hasattr(drawn, "stream"):
                yield from _streams(pdf, drawn, resources, seen)


def margin_artifacts(document: Any, pdf: Any) -> None:
    """Mark the text of the page margin boxes as /Artifact and drop its MCIDs from the parent tree.

    A marked-content sequence whose MCID's structure element is not reachable from the structure
    tree root is such text: it becomes `/Artifact << /Type /Pagination >> BDC`, and its parent tree
    entry null.
    """
    import pydyf

    catalog = pdf.catalog
    root_number = _number(catalog.get("StructTreeRoot"))
    if root_number is None:
        return
    root = pdf.objects[root_number]
    reachable = _reachable(pdf, root)
    nums = pdf.objects[_number(root["ParentTree"])]["Nums"]
    parent_arrays = {nums[i]: nums[i + 1] for i in range(0, len(nums), 2)}
    pages = [item for item in pdf.objects if isinstance(item, dict) and item.get("Type") == "/Page"]
    for page in pages:
        page_index = page.get("StructParents")
        mcids = parent_arrays.get(page_index)
        if mcids is None or not isinstance(mcids, list):
            continue
        outside = {mcid for mcid, reference in enumerate(mcids) if _number(reference) not in reachable}
        if not outside:
            continue
        contents = pdf.objects[_number(page["Contents"])]
        for stream in _streams(pdf, contents, _resolve(pdf, page.get("Resources")), set()):
            items = stream.stream
            for index, item in enumerate(items):
                if (isinstance(item, dict) and item.get("MCID") in outside and index + 1 < len(items)
                        and items[index + 1] == b"BDC" and index > 0):
                    items[index - 1] = "/Artifact"
                    items[index] = pydyf.Dictionary({"Type": "/Pagination"})
        for mcid in outside:
            mcids[mcid] = "null"
