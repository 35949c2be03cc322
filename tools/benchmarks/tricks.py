"""The tricks ablation, in the manner of the Bag of Tricks tables.

Every row is ``configs/auto_mbv3.py`` from scratch with a fixed cosine budget
and a fixed LR (no LR finder, no automatic epochs: the rows differ only in
the trick), then one trick added, or a combination. ``stock`` is that recipe
without no-bias-decay; precise BN statistics stay on in every row, because
without them MobileNetV3's validation numbers are not trustworthy (see the
README's BN section).
"""
import copy
import os.path as osp
import time
from typing import Callable, Dict, List

from .report import SCORED_ON, VAL_RULE_LABEL, scored_on_test, write_report
from .runs import bundled_config, cached_train

NAME = 'tricks'

SMOOTHING = 0.1


def _add_hook(cfg, hook: dict) -> None:
    cfg.custom_hooks = list(cfg.custom_hooks) + [hook]


def _insert_before_pack(cfg, step: dict) -> None:
    pipeline = cfg.train_dataloader.dataset.pipeline
    pack = next(i for i, s in enumerate(pipeline) if s['type'] == 'PackInputs')
    pipeline.insert(pack, step)


def _augments(cfg, augments: dict, mix_off: bool = True) -> None:
    cfg.model.train_cfg = dict(augments=augments)
    _add_hook(cfg, dict(type='SoftTargetCheckHook'))
    if mix_off:
        _add_hook(cfg, dict(type='MixOffHook', lr_ratio=0.05))


def stock(cfg) -> None:
    """configs/auto_mbv3.py without the tricks it switches on."""
    cfg.optim_wrapper.pop('paramwise_cfg', None)
    cfg.model.head.loss = dict(type='CrossEntropyLoss', loss_weight=1.0)
    cfg.model.backbone.init_cfg = None


def no_bias_decay(cfg) -> None:
    cfg.optim_wrapper.paramwise_cfg = dict(norm_decay_mult=0.0,
                                           bias_decay_mult=0.0)


def label_smoothing(cfg) -> None:
    cfg.model.head.loss = dict(type='LabelSmoothLoss',
                               label_smooth_val=SMOOTHING, mode='original')


def mixup(cfg) -> None:
    _augments(cfg, dict(type='MixupCutMix', mixup_alpha=0.2,
                        cutmix_alpha=0.0))


def cutmix(cfg) -> None:
    _augments(cfg, dict(type='MixupCutMix', mixup_alpha=0.0,
                        cutmix_alpha=1.0))


def mix_combo(cfg) -> None:
    _augments(cfg, dict(type='MixupCutMix', mixup_alpha=0.2,
                        cutmix_alpha=1.0, switch_prob=0.5,
                        label_smoothing=SMOOTHING))


def random_erasing(cfg) -> None:
    _insert_before_pack(cfg, dict(type='RandomErasingPreset',
                                  preset='default'))


def yoco_flip(cfg) -> None:
    _insert_before_pack(cfg, dict(
        type='YOCO', transforms=[dict(type='RandomFlip', prob=0.5,
                                      direction='horizontal')]))


def resolution_decrement(cfg) -> None:
    cfg.model.train_cfg = dict(augments=dict(
        type='RandomResolutionDecrement', prob=0.5, scale=0.5))


def zero_gamma(cfg) -> None:
    cfg.model.backbone.init_cfg = dict(type='ZeroInitLastBN')


def ema(cfg) -> None:
    _add_hook(cfg, dict(type='EMAHook',
                        ema_type='WarmupExponentialMovingAverage',
                        momentum=0.001))


def sam(cfg) -> None:
    cfg.optim_wrapper.type = 'SAMOptimWrapper'
    cfg.optim_wrapper.rho = 0.05


def augmix(cfg) -> None:
    _insert_before_pack(cfg, dict(type='AugMix', severity=5, width=3))


def am_softmax(cfg) -> None:
    head = cfg.model.head
    cfg.model.head = dict(type='AMSoftmaxClsHead',
                          num_classes=head.num_classes, in_channels=576,
                          mid_channels=[1024], dropout_rate=0.2,
                          act_cfg=dict(type='HSwish'), margin=0.35,
                          scale='auto', topk=(1, ))


def paper(cfg) -> None:
    """The paper's recipe (configs/paper_mbv3.py) at this budget and LR."""
    no_bias_decay(cfg)
    am_softmax(cfg)
    pipeline = cfg.train_dataloader.dataset.pipeline
    cfg.train_dataloader.dataset.pipeline = [
        s for s in pipeline if s['type'] != 'RandomCrop']
    _insert_before_pack(cfg, dict(type='RandomFlip', prob=0.5,
                                  direction='horizontal'))
    augmix(cfg)
    sam(cfg)
    ema(cfg)


ROWS: Dict[str, List[Callable]] = {
    'stock': [stock],
    '+ no-bias-decay': [stock, no_bias_decay],
    '+ label smoothing 0.1': [stock, label_smoothing],
    '+ mixup 0.2': [stock, mixup],
    '+ cutmix 1.0': [stock, cutmix],
    '+ mixup/cutmix + smoothing': [stock, mix_combo],
    '+ random erasing': [stock, random_erasing],
    '+ YOCO (flip)': [stock, yoco_flip],
    '+ resolution decrement': [stock, resolution_decrement],
    '+ zero-gamma': [stock, zero_gamma],
    '+ EMA 0.999': [stock, ema],
    '+ SAM 0.05': [stock, sam],
    '+ AugMix': [stock, augmix],
    '+ AM-Softmax': [stock, am_softmax],
    'paper recipe': [stock, paper],
    # The set configs/auto_mbv3.py switches on: the tricks that helped on
    # all three datasets above.
    'no-bias-decay + smoothing + zero-gamma': [stock, no_bias_decay,
                                               label_smoothing, zero_gamma],
}


def row_config(row: str, dataset: str, epochs: int, seed: int, lr: float,
               work_dir: str):
    cfg = bundled_config(dataset, epochs, seed, work_dir, lr=lr,
                         finder=False, auto_epochs=False)
    for change in ROWS[row]:
        change(cfg)
    return cfg


def render(payload: Dict) -> str:
    """The markdown of a ``tricks.json`` payload.

    Args:
        payload: What :func:`run_ablation` stores as JSON.
    """
    if scored_on_test(payload):
        return markdown(payload['results'], payload['command'],
                        on_test=True)
    return VAL_RULE_LABEL + '\n\n' + markdown(payload['results'],
                                               payload['command'])


def markdown(results: List[Dict], command: str, on_test: bool = False
             ) -> str:
    """The ablation table: mean top-1 per row and dataset, its difference
    to ``stock``, and the time.

    Args:
        results: The runs (:func:`run_ablation`).
        command: The command line, quoted.
        on_test: The runs were scored on test (val alongside); else they
            are old runs scored on val.
    """
    datasets = sorted({r['dataset'] for r in results})
    rows = list(dict.fromkeys(r['row'] for r in results))
    score = 'test top-1 (diff) [val]' if on_test else 'top-1'
    header = '| recipe | ' + ' | '.join(
        f'{d} {score} / time' for d in datasets) + ' |'
    intro = f'Command: `{command}`'
    if on_test:
        intro += ('. Every row trains a fixed budget and ships its final '
                  'weights: **test** top-1 of them (mean over seeds), the '
                  'difference to stock on test, val top-1 of the same '
                  'weights in square brackets.')
    lines = [intro, '', header, '| --- |' + ' --- |' * len(datasets)]
    by_key = {}
    for r in results:
        by_key.setdefault((r['row'], r['dataset']), []).append(r)
    for row in rows:
        cells = []
        for d in datasets:
            runs = by_key.get((row, d), [])
            if not runs:
                cells.append('-')
                continue
            top1 = sum(r['top1'] for r in runs) / len(runs)
            secs = sum(r['seconds'] for r in runs) / len(runs)
            base = by_key.get(('stock', d))
            delta = ''
            if base and row != 'stock':
                delta = f' ({top1 - sum(b["top1"] for b in base) / len(base):+.2f})'
            val = '' if not on_test else \
                f' [{sum(r["val_top1"] for r in runs) / len(runs):.2f}]'
            cells.append(f'{top1:.2f}{delta}{val} / {secs:.0f} s')
        lines.append(f'| {row} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def run_ablation(rows, datasets, epochs: Dict[str, int], seeds, lr: float,
                 out_dir: str, work_dir: str, command: str,
                 progress: Callable[[str], None], cache=None) -> List[Dict]:
    """Train (or fetch from ``cache``) every (row, dataset, seed); results
    are saved after each run."""
    results = []
    for dataset in datasets:
        for row in rows:
            for seed in seeds:
                cfg = row_config(row, dataset, epochs[dataset], seed, lr,
                                 osp.join(work_dir, dataset,
                                          row.replace(' ', '_'), str(seed)))
                start = time.perf_counter()
                result = dict(cached_train(
                    cache, copy.deepcopy(cfg), dataset=dataset, row=row,
                    epochs=epochs[dataset], lr=lr, seed=seed))
                result.update(row=row, dataset=dataset, seed=seed,
                              budget=epochs[dataset],
                              wall=time.perf_counter() - start)
                results.append(result)
                progress(f'{dataset} | {row} | seed {seed}: test top-1 '
                         f'{result["test_top1"]:.2f} in '
                         f'{result["seconds"]:.0f} s')
                write_report(out_dir, NAME, dict(
                    scored_on=SCORED_ON, command=command, lr=lr, epochs=epochs, results=results),
                    render)
    return results
