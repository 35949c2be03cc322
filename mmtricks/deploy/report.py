"""The deployment report: what was checked and timed, on which images, what
is recommended and why (``deploy_report.json`` and its markdown table)."""
import json
import os.path as osp
from typing import Dict, List, Optional

from .acceptance import drop_bound
from .latency import timing_rounds
from .model_info import DEPLOY_REPORT, SHORT_SHA256
from .precision import (RUNTIME_PRECISION, Candidate, choose_precision,
                        faster_than)

REPORT_FILE = DEPLOY_REPORT


def candidates_of(report: Dict) -> List[Candidate]:
    """The checked precisions, from the counts on each one's judging (and
    label-free) images and its timing rounds."""
    bench = report.get('benchmark') or {}
    result = []
    for name, checked in report['acceptance'].items():
        judging, free = checked['judging'], checked.get('label_free') or {}
        latency, throughput = timing_rounds(bench.get(name))
        result.append(Candidate(
            name, judging['lost'], judging['gained'], judging['images'],
            judging['disagreements'], free.get('disagreements', 0),
            free.get('images', 0), latency, throughput))
    return result


def drop_cells(parity: Optional[Dict], confidence: float) -> str:
    """Drop (points), its bound, and the counts behind them."""
    if not parity:
        return '- | - | -'
    drop = 100.0 * (parity['lost'] - parity['gained']) / parity['images']
    bound = drop_bound(parity['lost'], parity['images'],
                       confidence=confidence)
    return (f'{drop:+.2f} | {bound:.2f} | {parity["lost"]} / '
            f'{parity["gained"]} / {parity["disagreements"]} of '
            f'{parity["images"]}')


def roles_lines(report: Dict) -> List[str]:
    """Which images did what, with their counts."""
    lines = []
    for role, what in report.get('image_roles', {}).items():
        if what:
            lines.append(f'- {role}: {what["images"]} {what["split"]} '
                         f'images ({what["which"]}): {what["role"]}')
    return lines


def report_markdown(report: Dict) -> str:
    shown = report['report_split']
    confidence = report.get('confidence', 0.95)
    sha = report.get('checkpoint_sha256') or ''
    lines = [f'# Deployment of `{report["checkpoint"]}`'
             + (f' (sha256 {sha[:SHORT_SHA256]})' if sha else ''), '',
             'Every IR listed here was made from this checkpoint (each '
             'records its path and sha256 under `mmtricks/checkpoint`).'
             + (f' Removed, left by an earlier deploy: '
                f'{", ".join(report["removed_stale"])}.'
                if report.get('removed_stale') else ''), '',
             f'Input {report["input_shape"]}; recommended: '
             f'**{report["recommended"]}** '
             f'(`{osp.basename(report["files"][report["recommended"]])}`).',
             '', f'Why: {report["recommendation"]}', '',
             'The images:'] + roles_lines(report) + ['']
    lines += [f'WARNING: {w}' for w in report.get('warnings', [])]
    lines += [f'Not shown: {line}' for line in report.get('unshown', [])]
    lines += [f'Not a candidate: {name}: {why}'
              for name, why in report.get('skipped', {}).items()]
    if report.get('int8_quantization'):
        lines.append(f'INT8: {report["int8_quantization"]["summary"]}')
    lines.append('')
    split_head = (f' | drop {shown} (points) | bound {shown} | lost / gained '
                  f'/ flipped {shown}' if shown != report['choice_split']
                  else '')
    lines += [f'Drops are points of top-1 lost against PyTorch; bounds are '
              f'{confidence:.0%} upper bounds (the recommendation\'s, with '
              'label-free images where used); lost / gained / flipped count '
              'images.', '',
              '| model | runs at | judged on | drop (points) | bound | '
              f'lost / gained / flipped{split_head} | label-free flipped | '
              'latency b1 (ms) | throughput (img/s) | speed-up vs FP32 | '
              'faster beyond the rounds |',
              '| --- | --- | --- | --- | --- | --- |'
              + (' --- | --- | --- |' if split_head else '')
              + ' --- | --- | --- | --- | --- |']
    bench = report.get('benchmark') or {}
    speedups = report.get('speedups', {})
    by_name = {c.name: c for c in candidates_of(report)}
    for name, checked in report['acceptance'].items():
        b = bench.get(name)
        lat = f'{b["latency"]["median_ms"]:.3f}' if b else '-'
        fps = f'{b["throughput"]["fps"]:.0f}' if b else '-'
        cells = drop_cells(checked['judging'], confidence).split(' | ')
        cells[1] = f'{checked["bound"]:.2f}'
        split_cells = (' | ' + drop_cells(checked.get('reported'),
                                          confidence)
                       if split_head else '')
        free = checked.get('label_free')
        free_cell = (f'{free["disagreements"]} of {free["images"]}'
                     if free else '-')
        speed = f'x{speedups[name]["overall"]:.2f}' if name in speedups \
            else '-'
        faster = '-' if name == 'fp32' or name not in speedups else (
            'yes' if faster_than(by_name['fp32'], by_name[name]) else 'no')
        lines.append(
            f'| {name} | {RUNTIME_PRECISION[name]} | {checked["judged_on"]} '
            f'| {" | ".join(cells)}{split_cells} | {free_cell} | {lat} | '
            f'{fps} | {speed} | {faster} |')
    if 'pytorch' in bench:
        b = bench['pytorch']
        lines.append(f'\nPyTorch eager: {b["latency"]["median_ms"]:.3f} ms '
                     f'batch 1, {b["throughput"]["fps"]:.0f} img/s.')
    lines += operating_point_lines(report.get('operating_point'))
    return '\n'.join(lines) + '\n'


def operating_point_lines(point: Optional[Dict]) -> List[str]:
    """The operating point the IRs record, and PyTorch's numbers of its
    class at it and at argmax on each image set (the parity checks above
    already predict at it)."""
    if not point:
        return []
    lines = ['', f'Operating point: {point["class_name"]!r} when its score '
             f'>= {point["threshold"]:.4f} (recorded in every IR; '
             'OpenVINOClassifier and the checks above predict at it).', '',
             f'| images | {point["class_name"]} recall | argmax recall | '
             'precision | argmax precision | top-1 | argmax top-1 |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for name, n in point['splits'].items():
        lines.append(
            f'| {name} | {n["recall"]:.1f} | {n["argmax_recall"]:.1f} | '
            f'{n["precision"]:.1f} | {n["argmax_precision"]:.1f} | '
            f'{n["top1"]:.1f} | {n["argmax_top1"]:.1f} |')
    return lines


def recommend(report: Dict, options) -> None:
    """Add the recommendation (:func:`~.precision.choose_precision` on the
    report's counts and timing rounds, or the precision ``options``
    force), each candidate's bounds, and the lines for candidates the
    images cannot show, to ``report``."""
    forced = None if options.precision == 'auto' else options.precision
    decision = choose_precision(candidates_of(report),
                                options.accuracy_tolerance,
                                options.confidence, options.min_speedup,
                                forced)
    report['recommended'] = decision.name
    report['recommendation'] = decision.reason
    report['warnings'] += decision.warnings
    report['unshown'] = decision.unshown
    report['speedups'] = decision.speedups
    for name, checked in report['acceptance'].items():
        checked['bound'] = decision.bounds[name]
        checked['shown'] = decision.bounds[name] <= options.accuracy_tolerance
        reported = checked.get('reported')
        if reported:
            reported['bound'] = drop_bound(reported['lost'],
                                           reported['images'],
                                           confidence=options.confidence)


def write_report(folder: str, report: Dict) -> None:
    """``deploy_report.json``, and ``.md`` once a model is recommended."""
    with open(osp.join(folder, REPORT_FILE + '.json'), 'w') as f:
        json.dump(report, f, indent=2)
    if 'recommended' in report:
        with open(osp.join(folder, REPORT_FILE + '.md'), 'w') as f:
            f.write(report_markdown(report))
