"""The deployment report: what was checked and timed, what is recommended
and why (``deploy_report.json`` and its markdown table)."""
import json
import os.path as osp
from typing import Dict, List, Optional

from .model_info import DEPLOY_REPORT, SHORT_SHA256
from .parity import top1_drop
from .precision import RUNTIME_PRECISION, Candidate, choose_precision

REPORT_FILE = DEPLOY_REPORT


def candidates_of(report: Dict) -> List[Candidate]:
    """The checked precisions, from the report's parity and benchmark."""
    bench = report.get('benchmark') or {}
    result = []
    for name, parity in report['parity'].items():
        timing = bench.get(name)
        result.append(Candidate(
            name, top1_drop(parity), parity['top1_disagreement'],
            timing['latency']['median_ms'] if timing else None,
            timing['throughput']['fps'] if timing else None))
    return result


def _parity_cells(r: Optional[Dict]) -> str:
    if not r:
        return '- | - | -'
    return (f'{r["candidate_top1"]:.2f} | {r["top1_disagreement"]:.2f} | '
            f'{r["max_abs_score_diff"]:.1e}')


def report_markdown(report: Dict) -> str:
    choice, shown = report['choice_split'], report['report_split']
    sha = report.get('checkpoint_sha256') or ''
    lines = [f'# Deployment of `{report["checkpoint"]}`'
             + (f' (sha256 {sha[:SHORT_SHA256]})' if sha else ''), '',
             'Every IR listed here was made from this checkpoint (each '
             'records its path and sha256 under `mmtricks/checkpoint`).'
             + (f' Removed, left by an earlier deploy: '
                f'{", ".join(report["removed_stale"])}.'
                if report.get('removed_stale') else ''), '',
             f'Input {report["input_shape"]}. Candidates checked on '
             f'{report["images"]} {choice} images'
             + (f', accuracy also reported on {report["report_images"]} '
                f'{shown} images' if shown != choice else '')
             + f'; recommended: **{report["recommended"]}** '
             f'(`{osp.basename(report["files"][report["recommended"]])}`).',
             '', f'Why: {report["recommendation"]}', '']
    lines += [f'WARNING: {w}' for w in report.get('warnings', [])]
    lines += [f'Not a candidate: {name}: {why}'
              for name, why in report.get('skipped', {}).items()]
    if report.get('int8_quantization'):
        lines.append(f'INT8: {report["int8_quantization"]["summary"]}')
    lines.append('')
    split_cols = [choice] + ([shown] if shown != choice else [])
    head = ' | '.join(f'top-1 {s} (%) | flipped vs PyTorch {s} (%) | '
                      f'max abs score diff {s}' for s in split_cols)
    lines += [f'| model | runs at | {head} | latency b1 (ms) | '
              'throughput (img/s) | speed-up vs FP32 |',
              '| --- | --- | ' + '--- | ' * (3 * len(split_cols)) +
              '--- | --- | --- |']
    bench = report.get('benchmark') or {}
    tables = [report['parity']] + (
        [report['reported_parity']] if shown != choice else [])
    first = [next(iter(t.values())) for t in tables]
    pytorch = ' | '.join(f'{f["reference_top1"]:.2f} | 0.00 | 0' for f in first)
    speedups = report.get('speedups', {})
    for name in ['pytorch'] + list(report['parity']):
        b = bench.get(name)
        lat = f'{b["latency"]["median_ms"]:.3f}' if b else '-'
        fps = f'{b["throughput"]["fps"]:.0f}' if b else '-'
        cells = pytorch if name == 'pytorch' else ' | '.join(
            _parity_cells(t.get(name)) for t in tables)
        runs_at = 'torch fp32' if name == 'pytorch' else \
            RUNTIME_PRECISION[name]
        speed = f'x{speedups[name]["overall"]:.2f}' if name in speedups \
            else '-'
        lines.append(f'| {name} | {runs_at} | {cells} | {lat} | {fps} | '
                     f'{speed} |')
    return '\n'.join(lines) + '\n'


def recommend(report: Dict, options) -> None:
    """Add the recommendation (:func:`~.precision.choose_precision` on the
    report's parity and timings, or the precision ``options`` force) to
    ``report``."""
    forced = None if options.precision == 'auto' else options.precision
    decision = choose_precision(candidates_of(report),
                                options.accuracy_tolerance,
                                options.min_speedup, forced)
    report['recommended'] = decision.name
    report['recommendation'] = decision.reason
    report['warnings'] += decision.warnings
    report['speedups'] = decision.speedups


def write_report(folder: str, report: Dict) -> None:
    """``deploy_report.json``, and ``.md`` once a model is recommended."""
    with open(osp.join(folder, REPORT_FILE + '.json'), 'w') as f:
        json.dump(report, f, indent=2)
    if 'recommended' in report:
        with open(osp.join(folder, REPORT_FILE + '.md'), 'w') as f:
            f.write(report_markdown(report))
