"""Bag of Tricks parts one at a time on ``configs/auto_mbv3.py``, from
scratch.

The recipe ships three of the paper's parts: zero-gamma init, label
smoothing and no bias/norm decay. The ``baseline`` strips all three (the
paper's own baseline: zero-init off, one-hot targets, decay on every
weight); each ``+ part`` row adds one back, ``recipe`` is all three, and
the last two rows add progressive resizing (half size for the first half)
or distillation from the recipe's own trained model (same architecture, a
"born-again" teacher) to the recipe. Fixed cosine budget, LR 0.1, no LR
finder. The table: test top-1 of the final weights (val alongside, the
benchmarks' one scoring rule) and train wall time per variant.
"""
import os.path as osp
import statistics
from typing import Callable, Dict, List, Sequence

from .report import SCORED_ON, VAL_RULE_LABEL, scored_on_test, write_report
from .runs import bundled_config, initialisers, without_initialiser
from .train import train_and_score, train_once

NAME = 'bag_of_tricks'
# 'recipe' comes first: it trains the teacher that 'distill' learns from.
VARIANTS = ('recipe', 'baseline', 'no_bias_decay', 'zero_gamma',
            'label_smoothing', 'progressive', 'distill')
# The recipe's Bag of Tricks parts, each stripped by the baseline and added
# back alone by the row of its name.
PARTS = ('no_bias_decay', 'zero_gamma', 'label_smoothing')

LABELS = {
    'recipe': 'recipe (all three parts)',
    'baseline': 'baseline (none of the three)',
    'no_bias_decay': 'baseline + no bias/norm decay',
    'zero_gamma': 'baseline + zero-gamma',
    'label_smoothing': 'baseline + label smoothing 0.1',
    'progressive': 'recipe + progressive resizing',
    'distill': "recipe + distillation from the recipe's model",
}


def strip_part(cfg, part: str) -> None:
    """Turn ``part`` (one of :data:`PARTS`) off in the recipe's ``cfg``;
    an error when the recipe no longer ships it (the ablation would then
    compare a row with itself)."""
    if part == 'no_bias_decay':
        if 'paramwise_cfg' not in cfg.optim_wrapper:
            raise ValueError('The recipe has no paramwise_cfg: no-bias-decay '
                             'is not in it any more.')
        cfg.optim_wrapper.pop('paramwise_cfg')
    elif part == 'zero_gamma':
        init = cfg.model.backbone.get('init_cfg')
        if not any(c['type'] == 'ZeroInitLastBN' for c in initialisers(init)):
            raise ValueError('The recipe has no ZeroInitLastBN initialiser.')
        cfg.model.backbone.init_cfg = without_initialiser(init,
                                                          'ZeroInitLastBN')
    elif part == 'label_smoothing':
        if cfg.model.head.loss['type'] != 'LabelSmoothLoss':
            raise ValueError('The recipe\'s loss is not LabelSmoothLoss.')
        cfg.model.head.loss = dict(type='CrossEntropyLoss', loss_weight=1.0)
    else:
        raise ValueError(f'Unknown Bag of Tricks part {part!r}: one of '
                         f'{", ".join(PARTS)}.')


def variant_config(name: str, dataset: str, epochs: int, seed: int,
                   work: str, teacher: str = None):
    """The recipe with one variant applied.

    Args:
        name: One of :data:`VARIANTS`.
        dataset: A bundled name or a folder.
        epochs: The fixed budget.
        seed: The run's seed.
        work: The parent of the run's work dir.
        teacher: The checkpoint the ``distill`` variant learns from.
    """
    cfg = bundled_config(dataset, epochs, seed, osp.join(work, name),
                         finder=False)
    if name == 'baseline' or name in PARTS:
        for part in PARTS:
            if part != name:
                strip_part(cfg, part)
    elif name == 'progressive':
        cfg.custom_hooks.append(dict(type='ProgressiveResizingHook',
                                     stages=[dict(until=0.5, scale=0.5)]))
    elif name == 'distill':
        teacher_cfg = cfg.model.to_dict()
        cfg.model = dict(teacher_cfg, type='DistillationClassifier',
                         teacher=teacher_cfg, teacher_checkpoint=teacher,
                         temperature=4.0, alpha=0.5)
    return cfg


def _train_teacher(cfg, path: str) -> Dict:
    """Train and score the recipe; save the weights it ships as the
    distillation teacher."""
    import torch

    from mmtricks.models.model_state import unwrap_model
    result, runner = train_and_score(cfg)
    torch.save({'state_dict': unwrap_model(runner.model).state_dict()}, path)
    return result


def render(payload: Dict) -> str:
    """The markdown of a ``bag_of_tricks.json`` payload.

    Args:
        payload: What :func:`run_benchmark` stores as JSON.
    """
    on_test = scored_on_test(payload)
    lines = [f'{payload["dataset"]}, {payload["epochs"]} epochs, seeds '
             f'{payload["seeds"]}. Command: `{payload["command"]}`.' +
             (' Each variant ships its final weights: **test** top-1 of '
              'them, val top-1 of the same weights alongside.'
              if on_test else ''), '',
             '| variant | test top-1 (mean) | per seed | val top-1 (mean) '
             '| train s (mean) |' if on_test else
             '| variant | val top-1 (mean) | per seed | train s (mean) |',
             '| --- ' * (5 if on_test else 4) + '|']
    for name, runs in payload['results'].items():
        if not runs:
            continue
        tops = [r['top1'] for r in runs]
        val = f' {statistics.mean(r["val_top1"] for r in runs):.2f} |' \
            if on_test else ''
        lines.append(f'| {LABELS.get(name, name)} | '
                     f'{statistics.mean(tops):.2f} | '
                     f'{", ".join(f"{t:.2f}" for t in tops)} |{val} '
                     f'{statistics.mean(r["seconds"] for r in runs):.0f} |')
    text = '\n'.join(lines) + '\n'
    return text if on_test else VAL_RULE_LABEL + '\n\n' + text


def run_benchmark(dataset: str, epochs: int, seeds: Sequence[int],
                  out_dir: str, work: str, command: str,
                  progress: Callable[[str], None]) -> Dict[str, List[Dict]]:
    """Train every variant for each seed; the report is saved after each run.

    Args:
        dataset: A bundled name or a folder.
        epochs: The fixed budget.
        seeds: The seeds.
        out_dir: Where ``bag_of_tricks.{json,md}`` go.
        work: Where the runs' work dirs go.
        command: The command line, quoted in the table.
        progress: Called with a message after each run.
    """
    results = {name: [] for name in VARIANTS}
    for seed in seeds:
        seed_work = osp.join(work, f'seed{seed}')
        teacher = osp.join(seed_work, 'teacher.pth')
        for name in VARIANTS:
            cfg = variant_config(name, dataset, epochs, seed, seed_work,
                                 teacher)
            result = (_train_teacher(cfg, teacher) if name == 'recipe'
                      else train_once(cfg))
            results[name].append(result)
            progress(f'seed {seed} {name}: test top-1 '
                     f'{result["test_top1"]:.2f} '
                     f'{result["seconds"]:.0f} s')
            write_report(out_dir, NAME, dict(
                scored_on=SCORED_ON, dataset=dataset, epochs=epochs,
                seeds=list(seeds),
                command=command, results=results), render)
    return results
