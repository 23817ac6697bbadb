"""HTML to PDF with WeasyPrint. WeasyPrint needs Debian's Pango (libpango-1.0-0,
libpangoft2-1.0-0) and fonts (fonts-dejavu-core) at run time; without them Stammtisch still
starts and works, and only making a PDF says what is missing (docs/reports.md)."""

from __future__ import annotations

import functools
import logging

from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


class PdfUnavailable(Exception):
    """WeasyPrint or the system libraries it needs are not installed."""


@functools.cache
def _import_problem() -> str:
    """ "" when WeasyPrint can be imported, else why not (kept for the life of the process)."""
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)  # a line per step otherwise
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:  # OSError: a shared library (Pango) is missing
        log.warning("PDF reports are unavailable: %s", error)
        return str(error)
    return ""


def unavailable_reason() -> str | None:
    """A translated sentence saying why PDFs cannot be made here, or None if they can."""
    problem = _import_problem()
    if not problem:
        return None
    return _(
        "PDF reports cannot be made on this server: WeasyPrint or the Pango library it needs is missing "
        "(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core). Details: %(error)s"
    ) % {"error": problem[:200]}


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """The PDF of a complete HTML document; `PdfUnavailable` when it cannot be made here."""
    reason = unavailable_reason()
    if reason is not None:
        raise PdfUnavailable(reason)
    import weasyprint

    # A report's HTML holds no external resources (inline CSS and SVG): nothing is fetched
    # from the network or the disk, whatever the HTML says; only `data:` addresses load.
    fetcher = weasyprint.URLFetcher(allowed_protocols=["data"])
    return bytes(weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf())
