"""Does the precision ``tools/deploy.py`` recommends keep its accuracy on
images it never saw? The new rule (issue 32) against the rule before it,
on the same checkpoints.

For each bundled set and training seed, ``configs/auto_mbv3.py`` is trained
for a fixed budget (its shipped checkpoint kept) and deployed by
``tools/deploy.py``'s code (:func:`mmtricks.deploy.deploy_checkpoint`),
which makes the FP32 / BF16 / INT8 candidates, checks each against PyTorch
on every image set (val's tuning and judging halves, test, training images
calibration did not see) and times them in rounds. From that one report
three rules choose (pure functions of its counts and timings):

- **new**: the rule ``tools/deploy.py`` applies (95% drop bound on the
  judging images within the tolerance; faster than FP32 beyond the spread
  of the timing rounds), with the label-free images it is given by default
  (none);
- **new + label-free**: the same, with the training images calibration did
  not see as label-free judging images;
- **before**: the rule before issue 32: the top-1 drop on all of val (the
  images INT8 was tuned on included) at most the tolerance, and a median
  speed-up of at least x1.05. Its INT8 is plain quantization when that
  loses at most the tolerance on all of val, else the accuracy-controlled
  model (tuned here on val's even half; before, on all of val) when the
  deployment made one.

Each rule's shipped model is then scored on **test**, which no rule looked
at: how often does it lose more than the tolerance? And how much lower is
the disagreement rate on training images than on test (training images are
easier: if clearly lower, they must not judge)?
"""
import dataclasses
import glob
import json
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Sequence

from .report import write_report

NAME = 'deploy_acceptance'
RULES = ('new', 'new + label-free', 'before')
#: The rule before issue 32: fastest within the tolerance, by this much.
BEFORE_MIN_SPEEDUP = 1.05
#: Training epochs per bundled set (fixed budgets, as the tricks ablation).
EPOCHS = dict(digits=15, mnist=6, lfw_faces=15, elpv_poly=15)


def trained_checkpoint(dataset: str, seed: int, epochs: int, folder: str,
                       progress: Callable[[str], None]) -> Dict:
    """``configs/auto_mbv3.py`` trained on ``dataset`` for ``epochs`` (LR
    0.1, no LR finder) with ``seed``; its best checkpoint (the one the
    recipe ships) and the config to deploy it with. Reused when
    ``folder`` already holds it."""
    summary_path = osp.join(folder, 'trained.json')
    if osp.isfile(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
        if osp.isfile(summary['checkpoint']):
            progress(f'{dataset} seed {seed}: reusing {summary["checkpoint"]}')
            return summary
    from .runs import bundled_config
    from .train import train_and_score
    os.makedirs(folder, exist_ok=True)
    progress(f'{dataset} seed {seed}: training {epochs} epochs ...')
    cfg = bundled_config(dataset, epochs, seed, folder, lr=0.1,
                         finder=False)
    config = osp.join(folder, 'config.py')
    cfg.dump(config)
    result, runner = train_and_score(cfg)
    del runner
    best = sorted(glob.glob(osp.join(folder, 'best_*.pth')),
                  key=osp.getmtime)
    if not best:
        raise FileNotFoundError(f'{folder}: training wrote no best_*.pth '
                                '(the config\'s save_best checkpoint).')
    summary = dict(dataset=dataset, seed=seed, epochs=epochs, config=config,
                   checkpoint=best[-1], val_top1=result['val_top1'],
                   test_top1=result['test_top1'],
                   seconds=result['seconds'])
    with open(summary_path, 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


def lscpu_summary() -> str:
    """``lscpu``'s model name, CPU count and the flags inference speed
    depends on (AVX-512, VNNI, BF16, AMX)."""
    import subprocess
    try:
        text = subprocess.run(['lscpu'], capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ''
    fields = dict(line.split(':', 1) for line in text.splitlines()
                  if ':' in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = [f for f in fields.get('Flags', '').split()
             if f in ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni',
                      'avx512_bf16', 'amx_bf16', 'amx_int8')]
    flags = ' '.join(flags) or 'none of AVX2/AVX-512/VNNI/BF16/AMX'
    return (f'{fields.get("Model name", "?")}, {fields.get("CPU(s)", "?")} '
            f'CPU(s), {fields.get("Hypervisor vendor", "no")} hypervisor; '
            f'flags: {flags}')


# --------------------------------------------------------------- the rules
def drop_of(parity: Optional[Dict]) -> Optional[float]:
    """Points of top-1 lost against PyTorch in a parity report."""
    if not parity:
        return None
    return 100.0 * (parity['lost'] - parity['gained']) / parity['images']


def without_label_free(report: Dict) -> Dict:
    """``report`` as if no label-free images had judged."""
    copy = json.loads(json.dumps(report))
    for checked in copy['acceptance'].values():
        checked['label_free'] = None
    return copy


def before_int8(report: Dict, tolerance: float) -> Optional[Dict]:
    """The INT8 model the rule before issue 32 would have judged (its
    checks per image set), or None without INT8."""
    quantization = report.get('int8_quantization')
    if not quantization:
        return None
    ptq = quantization['ptq']
    if drop_of(ptq['val']) <= tolerance:
        return ptq
    return quantization.get('accuracy_control') or ptq


def before_choice(report: Dict, tolerance: float) -> str:
    """The rule before issue 32 on ``report``: the fastest candidate whose
    top-1 drop on all of val is at most ``tolerance`` and whose median
    speed-up (geometric mean of latency and throughput) is at least
    :data:`BEFORE_MIN_SPEEDUP`; else FP32."""
    from mmtricks.deploy.precision import speedup_over
    from mmtricks.deploy.report import candidates_of
    by_name = {c.name: c for c in candidates_of(report)}
    fp32 = by_name['fp32']
    if not fp32.timed:
        return 'fp32'
    best, best_speedup = 'fp32', BEFORE_MIN_SPEEDUP
    for name, candidate in by_name.items():
        if name == 'fp32' or not candidate.timed:
            continue
        checks = before_int8(report, tolerance) if name == 'int8' else \
            dict(val=report['parity'][name])
        speedup = speedup_over(fp32, candidate)['overall']
        if drop_of(checks['val']) <= tolerance and speedup >= best_speedup:
            best, best_speedup = name, speedup
    return best


def shipped(report: Dict, rule: str, tolerance: float,
            confidence: float) -> Dict:
    """What ``rule`` ships on ``report``: the candidate, its speed-up, its
    drop (and bound) on the images that judged it, and its drop (and bound)
    on test, which no rule looked at."""
    from mmtricks.deploy.acceptance import drop_bound
    from mmtricks.deploy.precision import choose_precision
    from mmtricks.deploy.report import candidates_of
    speedups = report.get('speedups', {})
    if rule == 'before':
        name = before_choice(report, tolerance)
        checks = (before_int8(report, tolerance) if name == 'int8' else
                  None)
        judging = checks['val'] if checks else report['parity'][name]
        test = (checks['test'] if checks else
                report['acceptance'][name]['reported'])
        judged_on, bound = 'val, all', None
    else:
        source = report if rule == 'new + label-free' else \
            without_label_free(report)
        decision = choose_precision(candidates_of(source), tolerance,
                                    confidence)
        name = decision.name
        checked = report['acceptance'][name]
        judging, test = checked['judging'], checked['reported']
        judged_on, bound = checked['judged_on'], decision.bounds[name]
    return dict(
        candidate=name, speedup=speedups.get(name, {}).get('overall'),
        judged_on=judged_on, judging_images=judging['images'],
        judging_drop=drop_of(judging), judging_bound=bound,
        test_images=test['images'], test_drop=drop_of(test),
        test_lost=test['lost'], test_gained=test['gained'],
        test_bound=drop_bound(test['lost'], test['images'],
                              confidence=confidence),
        beyond_tolerance=drop_of(test) > tolerance)


def candidate_rows(report: Dict, confidence: float = 0.95
                   ) -> Dict[str, Dict]:
    """Per candidate: drops on each image set, its bound with the
    label-free images (``bound``) and without (``bound_labelled``), its
    speed-up, and the disagreements on label-free training images and on
    test."""
    from mmtricks.deploy.acceptance import drop_bound
    from mmtricks.deploy.precision import faster_than
    from mmtricks.deploy.report import candidates_of
    by_name = {c.name: c for c in candidates_of(report)}
    rows = {}
    for name, checked in report['acceptance'].items():
        free, test = checked.get('label_free'), checked['reported']
        rows[name] = dict(
            val_drop=drop_of(report['parity'][name]),
            judging=dict((k, checked['judging'][k]) for k in
                         ('images', 'lost', 'gained', 'disagreements')),
            judging_drop=drop_of(checked['judging']),
            bound=by_name[name].bound(confidence),
            bound_labelled=drop_bound(by_name[name].lost,
                                      by_name[name].images,
                                      confidence=confidence),
            test_drop=drop_of(test),
            test=dict((k, test[k]) for k in
                      ('images', 'lost', 'gained', 'disagreements')),
            label_free=dict(images=free['images'],
                            disagreements=free['disagreements'])
            if free else None,
            speedup=report.get('speedups', {}).get(name, {}).get('overall'),
            faster_beyond_spread=(name != 'fp32' and by_name['fp32'].timed
                                  and by_name[name].timed
                                  and faster_than(by_name['fp32'],
                                                  by_name[name])))
    return rows


def label_free_comparison(cells: Sequence[Dict]) -> Dict[str, Dict]:
    """Per candidate, pooled over ``cells``: disagreements with PyTorch on
    label-free training images against those on test, and a one-sided
    Fisher test of "lower on training images"."""
    from scipy.stats import fisher_exact
    pooled = {}
    for cell in cells:
        for name, row in cell['candidates'].items():
            if name == 'fp32' or not row['label_free']:
                continue
            p = pooled.setdefault(name, dict(train=0, train_images=0,
                                             test=0, test_images=0))
            p['train'] += row['label_free']['disagreements']
            p['train_images'] += row['label_free']['images']
            p['test'] += row['test']['disagreements']
            p['test_images'] += row['test']['images']
    for p in pooled.values():
        p['train_rate'] = 100.0 * p['train'] / max(p['train_images'], 1)
        p['test_rate'] = 100.0 * p['test'] / max(p['test_images'], 1)
        p['p_lower'] = float(fisher_exact(
            [[p['train'], p['train_images'] - p['train']],
             [p['test'], p['test_images'] - p['test']]],
            alternative='less')[1])
        p['clearly_lower'] = p['p_lower'] < 0.05 and \
            p['train_rate'] < 0.5 * p['test_rate']
    return pooled


def summarise(cells: Sequence[Dict], tolerance: float) -> Dict[str, Dict]:
    """Per rule: cells, cells shipping another precision than FP32, cells
    whose shipped model loses more than ``tolerance`` on test, and among
    cells where a candidate pays x1.3 or more (and keeps the tolerance on
    test), how many ship one."""
    out = {}
    for rule in RULES:
        bound = 'bound' if rule == 'new + label-free' else 'bound_labelled'
        ships = [c['rules'][rule] for c in cells if rule in c['rules']]
        pays = [c for c in cells if any(
            row['speedup'] and row['speedup'] >= 1.3 and
            row['test_drop'] <= tolerance
            for name, row in c['candidates'].items() if name != 'fp32')]
        out[rule] = dict(
            cells=len(ships),
            shown=None if rule == 'before' else sum(
                any(row[bound] <= tolerance
                    for name, row in c['candidates'].items()
                    if name != 'fp32') for c in cells),
            not_fp32=sum(s['candidate'] != 'fp32' for s in ships),
            beyond_tolerance=sum(s['beyond_tolerance'] for s in ships),
            pays_cells=len(pays),
            pays_shipped=sum(c['rules'][rule]['candidate'] != 'fp32'
                             for c in pays if rule in c['rules']))
    return out


# ------------------------------------------------------------- the running
#: The options a deployment in the work dir was made with (beside its
#: report): it is reused only under the same ones.
OPTIONS_FILE = 'deploy_options.json'


def deployed_report(folder: str, options) -> Optional[Dict]:
    """The report of an earlier deployment in ``folder`` made with the same
    ``options`` (the rules are recomputed from it), else None."""
    report_path = osp.join(folder, 'deploy_report.json')
    options_path = osp.join(folder, OPTIONS_FILE)
    if not (osp.isfile(report_path) and osp.isfile(options_path)):
        return None
    with open(options_path) as f:
        if json.load(f) != dataclasses.asdict(options):
            return None
    with open(report_path) as f:
        return json.load(f)


def measure_cell(dataset: str, seed: int, epochs: int, folder: str,
                 options, progress: Callable[[str], None]) -> Dict:
    """Train (or reuse), deploy, and apply every rule to one checkpoint."""
    from mmtricks.deploy import deploy_checkpoint
    from .deploy import DEPLOY_CFG
    start = time.perf_counter()
    trained = trained_checkpoint(dataset, seed, epochs, folder, progress)
    report = deployed_report(osp.join(folder, 'deployed'), options)
    if report is None:
        progress(f'{dataset} seed {seed}: tools/deploy.py ...')
        report = deploy_checkpoint(trained['config'], trained['checkpoint'],
                                   osp.join(folder, 'deployed'), DEPLOY_CFG,
                                   options, log=lambda line: None)
        with open(osp.join(folder, 'deployed', OPTIONS_FILE), 'w') as f:
            json.dump(dataclasses.asdict(options), f, indent=2)
    else:
        progress(f'{dataset} seed {seed}: reusing its deployment')
    tolerance, confidence = options.accuracy_tolerance, options.confidence
    return dict(
        dataset=dataset, seed=seed, trained=trained,
        input_shape=report['input_shape'],
        image_roles=report['image_roles'],
        pytorch_test_top1=report['reported_parity']['fp32'][
            'reference_top1'],
        int8=report['int8_quantization']['summary']
        if report.get('int8_quantization') else None,
        skipped=report.get('skipped', {}),
        candidates=candidate_rows(report, confidence),
        rules={rule: shipped(report, rule, tolerance, confidence)
               for rule in RULES},
        seconds=time.perf_counter() - start)


def run_benchmark(datasets: Sequence[str], seeds: Sequence[int],
                  out_dir: str, work_dir: str, command: str,
                  progress: Callable[[str], None], options=None,
                  note: str = '', epochs: Optional[Dict] = None,
                  cpu: str = '') -> Dict:
    """Every (dataset, seed) cell, then the summary; writes the report
    after each cell (an interrupted run keeps what it measured; trained
    checkpoints and deployments in ``work_dir`` are reused)."""
    from mmtricks.deploy import DeployOptions

    from .deploy import inference_machine_description
    options = options or dataclasses.replace(
        DeployOptions(), label_free_images=2000)
    epochs = dict(EPOCHS, **(epochs or {}))
    cells: List[Dict] = []
    payload = {}
    for dataset in datasets:
        for seed in seeds:
            folder = osp.join(work_dir, f'{dataset}_seed{seed}')
            cells.append(measure_cell(dataset, seed, epochs[dataset],
                                      folder, options, progress))
            payload = dict(
                command=command, machine=inference_machine_description(),
                cpu=cpu, note=note,
                tolerance=options.accuracy_tolerance,
                confidence=options.confidence,
                label_free_images=options.label_free_images,
                cells=cells,
                summary=summarise(cells, options.accuracy_tolerance),
                label_free=label_free_comparison(cells))
            write_report(out_dir, NAME, payload, render)
    return payload


# --------------------------------------------------------------- the table
def _f(value, fmt='{:+.2f}') -> str:
    return '-' if value is None else fmt.format(value)


def render(payload: Dict) -> str:
    """The markdown of a ``deploy_acceptance.json`` payload."""
    tol = payload['tolerance']
    conf = payload['confidence']
    lines = [f'Command: `{payload["command"]}`', '',
             f'Machine: {payload["machine"]}', '']
    if payload.get('cpu'):
        lines += [f'CPU (`lscpu`): {payload["cpu"]}', '']
    if payload.get('note'):
        lines += [payload['note'], '']
    lines += [
        f'Tolerance {tol:g} point(s) of top-1 against PyTorch; bounds are '
        f'{conf:.0%} one-sided. Drops are points lost against PyTorch '
        '(negative: gained). "test > tol" marks a shipped model that loses '
        'more than the tolerance on test, which no rule looked at.', '',
        '## How often each rule ships a model beyond the tolerance', '',
        '| rule | cells | BF16/INT8 shown within the tolerance | ships '
        'BF16/INT8 | test drop > tolerance | cells where a candidate pays '
        'x1.3+ (and keeps the tolerance on test) | of those, shipped |',
        '| --- | --- | --- | --- | --- | --- | --- |']
    for rule, s in payload['summary'].items():
        lines.append(f'| {rule} | {s["cells"]} | {_f(s.get("shown"), "{}")} '
                     f'| {s["not_fp32"]} | {s["beyond_tolerance"]} | '
                     f'{s["pays_cells"]} | {s["pays_shipped"]} |')
    lines += ['', '## Label-free training images against test', '',
              'Disagreements with PyTorch, pooled over the cells: on '
              'training images calibration did not see, and on test.', '',
              '| candidate | training images: flipped | rate (%) | test: '
              'flipped | rate (%) | one-sided Fisher p (lower on training) '
              '| clearly lower |',
              '| --- | --- | --- | --- | --- | --- | --- |']
    for name, p in payload['label_free'].items():
        lines.append(
            f'| {name} | {p["train"]} of {p["train_images"]} | '
            f'{p["train_rate"]:.2f} | {p["test"]} of {p["test_images"]} | '
            f'{p["test_rate"]:.2f} | {p["p_lower"]:.3g} | '
            f'{"yes" if p["clearly_lower"] else "no"} |')
    lines += ['', '## Per cell: what each rule ships', '',
              '| set | seed | PyTorch test top-1 | rule | ships | speed-up | '
              'judged on | drop judging (bound) | drop test (bound) | '
              'test > tol |',
              '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for cell in payload['cells']:
        for rule, s in cell['rules'].items():
            lines.append(
                f'| {cell["dataset"]} | {cell["seed"]} | '
                f'{cell["pytorch_test_top1"]:.2f} | {rule} | '
                f'{s["candidate"]} | {_f(s["speedup"], "x{:.2f}")} | '
                f'{s["judged_on"]} ({s["judging_images"]}) | '
                f'{_f(s["judging_drop"])} ({_f(s["judging_bound"], "{:.2f}")})'
                f' | {_f(s["test_drop"])} ({s["test_bound"]:.2f}) | '
                f'{"**yes**" if s["beyond_tolerance"] else "no"} |')
    lines += ['', '## Per cell: every candidate', '',
              '| set | seed | candidate | speed-up | faster beyond the rounds '
              '| drop val (all) | judging: lost / gained / flipped of images '
              '| drop judging | bound | drop test | test flipped | '
              'label-free flipped |',
              '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | '
              '--- | --- |']
    for cell in payload['cells']:
        for name, row in cell['candidates'].items():
            j, t, free = row['judging'], row['test'], row['label_free']
            faster = '-' if name == 'fp32' else (
                'yes' if row['faster_beyond_spread'] else 'no')
            lines.append(
                f'| {cell["dataset"]} | {cell["seed"]} | {name} | '
                f'{_f(row["speedup"], "x{:.2f}")} | '
                f'{faster} | '
                f'{_f(row["val_drop"])} | {j["lost"]} / {j["gained"]} / '
                f'{j["disagreements"]} of {j["images"]} | '
                f'{_f(row["judging_drop"])} | {row["bound"]:.2f} | '
                f'{_f(row["test_drop"])} | {t["disagreements"]} of '
                f'{t["images"]} | '
                + (f'{free["disagreements"]} of {free["images"]}' if free
                   else '-') + ' |')
    lines += ['', 'INT8 per cell: ' + '; '.join(
        f'{c["dataset"]} seed {c["seed"]}: {c["int8"]}'
        for c in payload['cells'] if c.get('int8')), '']
    return '\n'.join(lines)
