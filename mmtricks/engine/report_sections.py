"""The sections of the run report (:mod:`~mmtricks.engine.run_report`):
each a function of the facts read from the work dir, returning HTML; a
section whose files are absent says which and why instead."""
import os.path as osp
from typing import Dict, List

from .report_curves import (best_val, class_rows, curves_section, last_test,
                            monitor_of)
from .report_html import (esc, file_image, image, missing, number, table)

DECISION_KEYS = ('classes', 'image_size', 'batch_size', 'monitor',
                 'class_balanced_sampling', 'time_budget')
LOG_DECISION = 'Data decision: '


def decisions_section(facts: Dict) -> str:
    decisions = facts['decisions']
    reasons = decisions.get('reasons') or [
        line.split(LOG_DECISION, 1)[1] for line in facts['log']
        if LOG_DECISION in line]
    if not decisions and not reasons:
        return missing('No checkpoint with data decisions and no log line '
                       'naming them in this work dir.')
    rows = [[k, ', '.join(map(str, v)) if isinstance(v, list) else v]
            for k, v in decisions.items() if k in DECISION_KEYS]
    source = (f'from {osp.basename(facts["checkpoint"])}'
              if decisions else 'from the log')
    items = ''.join(f'<li>{esc(r)}</li>' for r in reasons)
    return (f'<p>Decided from the data ({esc(source)}):</p>' +
            (table(['setting', 'value'], rows) if rows else '') +
            f'<ul>{items}</ul>')


def data_checks_section(facts: Dict) -> str:
    checks = facts['data_checks']
    if not checks:
        return missing('No data_checks.json: written when training starts.')
    parts = []
    dup = checks.get('duplicates') or {}
    if dup:
        method = dup.get('method') or {}
        parts.append(
            f'<p>Duplicates (setting {esc(dup.get("setting"))}): '
            f'{dup.get("cross_split_pairs", 0)} pairs across splits, '
            f'{dup.get("within_split_pairs", 0)} within a split. '
            + ' '.join(f'{esc(k)}: {esc(v)}.' for k, v in method.items()) +
            '</p>')
        pairs = dup.get('pairs') or []
        if pairs:
            parts.append(table(
                ['kind', 'distance', 'split', 'image', 'split', 'image'],
                [[p['kind'], p.get('distance', '-'), p['first']['split'],
                  p['first']['image'], p['second']['split'],
                  p['second']['image']] for p in pairs]))
    stats = checks.get('images') or {}
    if stats:
        parts.append(table(
            ['split', 'images', 'sizes (most common)', 'modes'],
            [[split, s.get('images', '-'), _most_common(s.get('sizes')),
              _most_common(s.get('modes'))] for split, s in stats.items()]))
    return ''.join(parts) or missing('data_checks.json holds no checks.')


def _most_common(counts, top: int = 3) -> str:
    if not counts:
        return '-'
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ', '.join(f'{k} ({v})' for k, v in ranked[:top])
    return text + (f', {len(ranked) - top} more' if len(ranked) > top else '')


def lr_section(facts: Dict) -> str:
    plot = file_image(osp.join(facts['work_dir'], 'lr_finder.png'),
                      'LR range test')
    found = facts['lr_finder'] or {}
    if plot is None and not found:
        return missing('No LR range test in this work dir (lr_finder.json '
                       'and .png; the recipe runs one before training).')
    text = ''
    if found:
        text = (f'<p>LR {number(found.get("lr"), 5)} by rule '
                f'{esc(found.get("rule"))} (config LR '
                f'{number(found.get("config_lr"), 5)}).</p>')
    return text + (plot or missing('lr_finder.png is missing.'))


def per_class_section(facts: Dict) -> str:
    parts = []
    epoch, val = best_val(facts)
    headers = ['class', 'precision', 'recall', 'F1']
    for split, line, caption in (
            ('val', val, f'val, epoch {epoch} (best {monitor_of(facts)})'),
            ('test', last_test(facts['scalars']), 'test (last test run)')):
        plot = file_image(osp.join(facts['work_dir'],
                                   f'confusion_matrix_{split}.png'),
                          f'confusion matrix ({split})', 'cm')
        if line is None and plot is None:
            parts.append(f'<div><h3>{split}</h3>' + missing(
                f'No {split} metrics in this work dir' +
                (' (no test run yet).' if split == 'test' else '.')) +
                '</div>')
            continue
        rows = class_rows(line or {})
        parts.append(f'<div><h3>{esc(caption)}</h3>' +
                     (table(headers, rows) if rows else missing(
                         'No per-class metrics in the scalars.')) +
                     (plot or missing(f'confusion_matrix_{split}.png is '
                                      'missing.')) + '</div>')
    return f'<div class="row">{"".join(parts)}</div>'


def gallery_section(facts: Dict) -> str:
    parts = []
    for split, detail in facts['label_noise'].items():
        if not detail:
            parts.append(f'<h3>{split}</h3>' + missing(
                f'No label_noise/{split}.json: written at the end of '
                + ('training.' if split == 'val' else 'a test run.')))
            continue
        folder = osp.join(facts['work_dir'], 'label_noise')
        parts.append(
            f'<h3>{split}: {detail["wrong"]} of {detail["images"]} images '
            f'wrong, the {len(detail["candidates"])} highest losses</h3>')
        if list(detail.get('map_size') or ()) == [1, 1]:
            parts.append(missing(
                'The saliency maps are 1x1 (the input is no larger than the '
                "backbone's stride): they show no location. Train at a "
                'larger image_size to see where the model looks.'))
        figures = []
        for c in detail['candidates']:
            with open(osp.join(folder, c['overlay']), 'rb') as f:
                picture = image(f.read(), f'{c["image"]}: overlay')
            figures.append(
                f'<figure>{picture}<figcaption>label <b>{esc(c["label"])}'
                f'</b>, predicted <b>{esc(c["prediction"])}</b> '
                f'({100 * c["confidence"]:.0f}%), loss {c["loss"]:.2f}<br>'
                f'{esc(c["image"])}</figcaption></figure>')
        parts.append(f'<div class="gallery">{"".join(figures)}</div>')
    return ('<p>Label-noise candidates: the held-out images the model gets '
            'most confidently wrong (highest loss), each beside the '
            'Recipro-CAM map of the class it predicted (red: where it '
            'looked). A wrong label or a hard image; worth a look.</p>' +
            ''.join(parts))


def operating_point_section(facts: Dict) -> str:
    point = facts['meta'].get('operating_point')
    test = last_test(facts['scalars']) or {}
    at_test = {k.split('/', 1)[1]: v for k, v in test.items()
               if k.startswith('operating_point/')}
    if not point and not at_test:
        return missing('No operating point stored: argmax (more than 2 '
                       'classes, balanced classes, or operating_point=None).')
    parts = []
    if point:
        parts.append(table(['field', 'value'],
                           [[k, v] for k, v in point.items()]))
    if at_test:
        parts.append('<p>Test at the threshold, next to argmax:</p>' +
                     table(['measure', 'value'], sorted(at_test.items())))
    return ''.join(parts)


def deploy_section(facts: Dict) -> str:
    if not facts['deploy']:
        return missing('No deploy_report.json in this work dir or below it '
                       '(tools/deploy.py writes one into its --work-dir; '
                       'tools/report.py --deploy DIR reads it there).')
    parts = []
    for path, report in facts['deploy'].items():
        report = report or {}
        parts.append(f'<h3>{esc(path)}</h3><p>Recommended: <b>'
                     f'{esc(report.get("recommended", "-"))}</b>. '
                     f'{esc(report.get("recommendation", ""))}</p>')
        warnings = report.get('warnings') or []
        if warnings:
            parts.append('<ul>' + ''.join(f'<li>{esc(w)}</li>'
                                          for w in warnings) + '</ul>')
        markdown = path[:-len('.json')] + '.md'
        if osp.isfile(markdown):
            with open(markdown) as f:
                parts.append(markdown_tables(f.read()))
    return ''.join(parts)


def markdown_tables(text: str) -> str:
    """The deploy report's markdown (pipe tables and lines) as HTML."""
    out: List[str] = []
    rows: List[List[str]] = []

    def flush():
        if rows:
            out.append(table(rows[0], rows[1:]))
            rows.clear()
    for line in text.splitlines():
        line = line.replace('**', '').replace('`', '')  # bold, code
        if line.startswith('|'):
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            if not all(set(c) <= set('-: ') for c in cells):
                rows.append(cells)
            continue
        flush()
        if line.strip():
            out.append(f'<p>{esc(line.lstrip("# "))}</p>')
    flush()
    return ''.join(out)


#: ``(id, heading, render)`` in page order.
SECTIONS = (
    ('decisions', 'Data decisions', decisions_section),
    ('data-checks', 'Data checks', data_checks_section),
    ('lr-range-test', 'LR range test', lr_section),
    ('curves', 'Training curves', curves_section),
    ('per-class', 'Per class: val and test', per_class_section),
    ('label-noise', 'Label-noise candidates', gallery_section),
    ('operating-point', 'Operating point', operating_point_section),
    ('deploy', 'Deployment', deploy_section),
)
