"""Benchmark: EfficientNet-Lite0 fine-tuned from the packaged ImageNet
weights against the same network trained from scratch.

Both runs use ``configs/auto_effnet_lite0.py`` unchanged but for the backbone
init: the LR finder picks each run's LR, ``AutoEpochsHook`` decays and stops
within the same epoch cap, and each ships its best validated weights,
scored by the benchmarks' one rule: test top-1 of those weights, val
alongside.
"""
import os.path as osp
from typing import Dict, List

from . import AUTO_EFFNET_LITE0
from .report import SCORED_ON, VAL_RULE_LABEL, scored_on_test, write_report
from .runs import bundled_config, cached_train

NAME = 'effnet_lite0'
PACKAGED_INIT = dict(type='PackagedEfficientNetLite')
INITS = ('pretrained', 'scratch')


def lite0_config(dataset: str, cap: int, seed: int, work_dir: str,
                 pretrained: bool):
    cfg = bundled_config(dataset, cap, seed, work_dir, auto_epochs=True,
                         path=AUTO_EFFNET_LITE0)
    cfg.model.backbone.init_cfg = PACKAGED_INIT if pretrained else None
    return cfg


def summarise(dataset: str, runs: Dict[str, Dict]) -> Dict:
    pretrained, scratch = runs['pretrained'], runs['scratch']
    return dict(
        dataset=dataset, scored_on=SCORED_ON, pretrained=pretrained,
        scratch=scratch,
        top1_gain=float(pretrained['top1'] - scratch['top1']),
        time_ratio=float(pretrained['seconds'] / scratch['seconds']),
    )


def render(payload: Dict) -> str:
    """The markdown of an ``effnet_lite0.json`` payload.

    Args:
        payload: What :func:`run_benchmark` stores as JSON.
    """
    on_test = scored_on_test(payload)
    text = markdown(payload['summaries'], payload['cap'],
                    payload['image_size'], payload['command'],
                    on_test=on_test)
    return text if on_test else VAL_RULE_LABEL + '\n\n' + text


def markdown(summaries: List[Dict], cap: int, image_size: int,
             command: str, on_test: bool = False) -> str:
    """The table: each init's top-1, epochs, time and LR, and the gain.

    Args:
        summaries: One per dataset (:func:`summarise`).
        cap: The epoch cap.
        image_size: The input size.
        command: The command line, quoted.
        on_test: Scored on test (val alongside), else old runs on val.
    """
    score = 'test (val)' if on_test else 'top-1'
    note = (' Top-1 is **test** top-1 of the shipped weights, val top-1 of '
            'them in brackets; the gain is on test.' if on_test else '')
    lines = [
        'EfficientNet-Lite0 fine-tuned from the packaged ImageNet weights '
        'vs from scratch: `configs/auto_effnet_lite0.py` '
        f'({image_size} px, LR from the finder, AutoEpochsHook within a cap '
        f'of {cap} epochs, best validated weights shipped). Command: '
        f'`{command}`.' + note, '',
        f'| dataset | pretrained: {score} / epochs / time / LR '
        f'| scratch: {score} / epochs / time / LR | '
        f'{"test " if on_test else ""}top-1 gain |',
        '| --- | --- | --- | --- |',
    ]
    for s in summaries:
        cells = [f'{r["top1"]:.2f}' +
                 (f' ({r["val_top1"]:.2f})' if on_test else '') +
                 f' / {r["epochs"]} / {r["seconds"]:.0f} s / '
                 f'{r["lr"]:.3g}' for r in (s['pretrained'], s['scratch'])]
        lines.append(f'| {s["dataset"]} | ' + ' | '.join(cells) +
                     f' | {s["top1_gain"]:+.2f} |')
    return '\n'.join(lines) + '\n'


def run_benchmark(datasets, cap, out_dir, work_root, command,
                  progress=print, seed=0, cache=None):
    summaries, image_size = [], None
    for dataset in datasets:
        runs = {}
        for init in INITS:
            cfg = lite0_config(dataset, cap, seed,
                               osp.join(work_root, f'{dataset}_{init}'),
                               pretrained=init == 'pretrained')
            image_size = cfg.image_size
            runs[init] = cached_train(cache, cfg, dataset=dataset,
                                      init=init, cap=cap, seed=seed)
            progress(f'{dataset} {init}: test top-1 '
                     f'{runs[init]["test_top1"]:.2f} in '
                     f'{runs[init]["epochs"]} epochs, '
                     f'{runs[init]["seconds"]:.0f} s')
        summaries.append(summarise(dataset, runs))
        write_report(out_dir, NAME, dict(
            scored_on=SCORED_ON, cap=cap, image_size=image_size,
            command=command,
            summaries=summaries), render)
    return summaries
