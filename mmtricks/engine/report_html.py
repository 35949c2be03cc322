"""The HTML pieces of the run report (:mod:`~mmtricks.engine.run_report`):
one page with nothing outside it. Every image is a ``data:`` URI (PNG,
plots drawn with matplotlib's Agg backend), the style sheet and the one
script are inline, so the file opens from a disk with no server and no
network.

The script marks, on the page's load, how many images did not decode
(``data-broken-images`` on ``<body>``): a browser test reads it.
"""
import base64
import html
import io
import os.path as osp
from typing import Iterable, Optional, Sequence, Tuple

STYLE = '''
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;
padding:0 16px 40px;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-top:8px}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%}img.cm{max-width:360px}
.row{display:flex;flex-wrap:wrap;gap:32px}.missing{color:#777;font-style:italic}
.gallery{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;width:150px;font-size:.8em}
figure img{width:150px;image-rendering:pixelated}
nav a{margin-right:12px}pre{white-space:pre-wrap;background:#f6f6f6;
padding:6px}
'''

# Counts the images that failed to decode once everything has loaded.
SCRIPT = '''
window.addEventListener('load', function () {
  var broken = 0;
  for (var i = 0; i < document.images.length; i++) {
    var img = document.images[i];
    if (!img.complete || img.naturalWidth === 0) { broken++; }
  }
  document.body.setAttribute('data-broken-images', String(broken));
});
'''


def esc(value) -> str:
    return html.escape(str(value))


def number(value, digits: int = 2) -> str:
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return esc(value)


def table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A table; numbers are right-aligned."""
    head = ''.join(f'<th>{esc(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = ''.join(
            f'<td class="n">{number(c)}</td>'
            if isinstance(c, (int, float)) and not isinstance(c, bool)
            else f'<td>{esc(c)}</td>' for c in row)
        body.append(f'<tr>{cells}</tr>')
    return f'<table><tr>{head}</tr>{"".join(body)}</table>'


def missing(text: str) -> str:
    """What a section shows when its files are absent, and why."""
    return f'<p class="missing">{esc(text)}</p>'


def png_uri(data: bytes) -> str:
    return 'data:image/png;base64,' + base64.b64encode(data).decode('ascii')


def image(data: bytes, alt: str, css_class: str = '') -> str:
    kind = f' class="{css_class}"' if css_class else ''
    return f'<img src="{png_uri(data)}" alt="{esc(alt)}"{kind}>'


def file_image(path: str, alt: str, css_class: str = '') -> Optional[str]:
    """An ``<img>`` of a PNG file, or None when there is none."""
    if not osp.isfile(path):
        return None
    with open(path, 'rb') as f:
        return image(f.read(), alt, css_class)


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (closed afterwards)."""
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=80, bbox_inches='tight')
    plt.close(fig)
    return buffer.getvalue()


def new_figure(rows: int = 1, cols: int = 1, size=(9, 3)):
    """A figure on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    return plt.subplots(rows, cols, figsize=size, squeeze=False)


def page(title: str, sections: Sequence[Tuple[str, str, str]]) -> str:
    """The whole document from ``(id, heading, body)`` sections."""
    nav = ' '.join(f'<a href="#{i}">{esc(h)}</a>' for i, h, _ in sections)
    parts = ''.join(f'<section id="{i}"><h2>{esc(h)}</h2>{body}</section>'
                    for i, h, body in sections)
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<title>{esc(title)}</title><style>{STYLE}</style></head>'
            f'<body><h1>{esc(title)}</h1><nav>{nav}</nav>{parts}'
            f'<script>{SCRIPT}</script></body></html>')
