"""Patient documents as PDF: which process runs what.

- `html` (web process): the report Jinja environment over reports/templates (autoescaped,
  StrictUndefined), the plain-values check, `render_html`.
- `pool` (web process): `render_pdf` / `pdf_from_html`, which hand the HTML to this web process's
  render process and take the PDF back; starting, recycling (every RENDERS_PER_PROCESS renders)
  and killing (after RENDER_TIMEOUT_SECONDS) that process. `_cpython` holds the private CPython
  attributes the pool reads, with the reason for each.
- `worker` (render process): WeasyPrint, the bundled fonts (one FontConfiguration per process),
  and the URL fetcher.

What the renderer may read, and nothing else (see `worker.ReportURLFetcher`):

- files strictly inside `reports/` (fonts, print CSS, images), by `file:` URL: templates link
  them by relative URL and the HTML is rendered with `reports/` as its base URL;
- the clinic logo, as the special URL `logo:clinic` (`LOGO_URL`): the PNG bytes handed to
  `render_pdf`, never a file or a network address;
- `data:` URLs of raster images only (PNG, JPEG, GIF, base64, at most 2 MB), for images a
  context builder already holds, such as a signature.

Everything else (http, https, ftp, `file:` outside `reports/`, symlinks out of it, `..`, SVG or
CSS `data:` URLs, any other scheme) is refused with an exception and recorded in
`fetcher.refused`. The fetcher never opens a network connection, so there is no redirect to follow.

The render process receives only the HTML, the title, the language, the logo's bytes and any
attached files, and has no database session, request or app: it imports `worker` and WeasyPrint,
nothing else of the app. So this package, like practitioner.documents above it, imports nothing
when it is imported: import the module you need.
"""
