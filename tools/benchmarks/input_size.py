"""Benchmark: the input size the recipe chooses from the data against fixed
sizes, and the two backbones at the chosen size.

On one dataset (the bundled ``elpv_poly`` by default): ``auto_mbv3.py`` at
fixed sizes (one seed each), at the size it chooses itself (``--seeds``
seeds) and ``auto_effnet_lite0.py`` (from its packaged ImageNet weights) at
the chosen size. Every run is the recipe unchanged but for ``image_size``:
LR finder, automatic epochs, the monitored metric it picks for the data.
Scored by the benchmarks' one rule (test split of the weights each run
ships, val alongside), with macro-F1 and every class's recall, the training
wall time and the batch-1 latency of the OpenVINO FP32 model at that size.
"""
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

from . import AUTO_EFFNET_LITE0, AUTO_MBV3
from .report import SCORED_ON, short_command, write_report
from .runs import bundled_config, cached_train, dataset_label

NAME = 'input_size'
AUTO = 'auto'
RECIPES = {'mbv3': AUTO_MBV3, 'mbv3_balanced': AUTO_MBV3,
           'effnet_lite0': AUTO_EFFNET_LITE0}
LABELS = {'mbv3': 'MobileNetV3-small, from scratch',
          'mbv3_balanced': 'MobileNetV3-small, from scratch, '
                           'class-balanced sampling',
          'effnet_lite0': 'EfficientNet-Lite0, packaged ImageNet weights'}
#: Goal of the issue: the chosen size within this many points of the best
#: fixed size, on top-1 and on macro-F1.
WITHIN_POINTS = 1.0


def plan(sizes: Sequence[int], seeds: int, effnet_seeds: int,
         balanced_seeds: int = 0, first_seed: int = 0):
    """``(recipe, image_size, seed)`` of every run: the chosen size's first
    seed first (a fixed size equal to it is the same run, not run twice),
    then the fixed sizes, the other seeds, EfficientNet-Lite0."""
    runs = [('mbv3', AUTO, 0)] if seeds and first_seed == 0 else []
    runs += [('mbv3', size, 0) for size in sorted(sizes)]
    runs += [('mbv3', AUTO, seed) for seed in range(max(1, first_seed),
                                                   seeds)]
    runs += [('effnet_lite0', AUTO, seed) for seed in range(effnet_seeds)]
    runs += [('mbv3_balanced', AUTO, seed) for seed in range(balanced_seeds)]
    return runs


def run_config(dataset: str, recipe: str, size, seed: int, cap: int,
               work_dir: str):
    cfg = bundled_config(dataset, cap, seed, work_dir, auto_epochs=True,
                         path=RECIPES[recipe])
    # bundled_config fixes the head; the recipe reads it from the data
    cfg.model.head.num_classes = None
    cfg.data_preprocessor.num_classes = None
    cfg.image_size = size
    if recipe == 'mbv3_balanced':
        cfg.class_balanced_sampling = True
    return cfg


def macro_f1(result: Dict) -> Optional[float]:
    value = result.get('test_metrics', {}).get('macro/f1-score')
    return None if value is None else float(value)


def class_recalls(result: Dict) -> Dict[str, float]:
    prefix = 'class/recall/'
    return {k[len(prefix):]: float(v)
            for k, v in result.get('test_metrics', {}).items()
            if k.startswith(prefix)}


def chosen_size(result: Dict) -> Optional[int]:
    return (result.get('data_decisions') or {}).get('image_size')


def mean_sd(values: List[float]) -> Dict[str, float]:
    return dict(mean=float(statistics.fmean(values)),
                sd=float(statistics.stdev(values)) if len(values) > 1
                else 0.0, n=len(values))


def chosen_size_row(table: List[Dict], recipe: str) -> Optional[Dict]:
    """The summary row of ``recipe`` at the size the recipe chose."""
    return next((t for t in table if t['recipe'] == recipe and
                 t['requested'] == AUTO), None)


def summarise(rows: List[Dict]) -> Dict:
    """Per (recipe, size) means; the goals: chosen vs best fixed size."""
    groups: Dict[tuple, List[Dict]] = {}
    for row in rows:
        groups.setdefault((row['recipe'], row['requested']), []).append(row)
    table = []
    for (recipe, requested), runs in groups.items():
        results = [r['result'] for r in runs]
        f1 = [macro_f1(r) for r in results]
        table.append(dict(
            recipe=recipe, requested=requested,
            image_size=chosen_size(results[0]),
            seeds=[r['seed'] for r in runs],
            test_top1=mean_sd([r['test_top1'] for r in results]),
            val_top1=mean_sd([r['val_top1'] for r in results]),
            macro_f1=mean_sd(f1) if None not in f1 else None,
            recalls={name: mean_sd([class_recalls(r)[name] for r in results])
                     for name in class_recalls(results[0])},
            seconds=mean_sd([r['seconds'] for r in results]),
            epochs=mean_sd([r['epochs'] for r in results]),
            latency_ms=runs[0].get('latency_ms')))
    fixed = [t for t in table if t['recipe'] == 'mbv3' and
             t['requested'] != AUTO]
    auto = chosen_size_row(table, 'mbv3')
    goals = {}
    if fixed and auto is not None:
        best_top1 = max(fixed, key=lambda t: t['test_top1']['mean'])
        goals['best_fixed_top1'] = dict(
            image_size=best_top1['image_size'],
            test_top1=best_top1['test_top1']['mean'],
            seconds=best_top1['seconds']['mean'])
        goals['chosen_top1_gap'] = \
            auto['test_top1']['mean'] - best_top1['test_top1']['mean']
        goals['chosen_top1_within'] = \
            goals['chosen_top1_gap'] >= -WITHIN_POINTS
        goals['chosen_time_ratio'] = \
            auto['seconds']['mean'] / best_top1['seconds']['mean']
        if all(t['macro_f1'] for t in fixed) and auto['macro_f1']:
            best_f1 = max(fixed, key=lambda t: t['macro_f1']['mean'])
            goals['best_fixed_macro_f1'] = dict(
                image_size=best_f1['image_size'],
                macro_f1=best_f1['macro_f1']['mean'])
            goals['chosen_macro_f1_gap'] = \
                auto['macro_f1']['mean'] - best_f1['macro_f1']['mean']
            goals['chosen_macro_f1_within'] = \
                goals['chosen_macro_f1_gap'] >= -WITHIN_POINTS
    return dict(table=table, goals=goals, balanced=sampling_effect(table))


def difference(a: Dict, b: Dict) -> Dict[str, float]:
    """``b`` minus ``a`` (two :func:`mean_sd` results) and the standard
    error of that difference (Welch's: sqrt(sd_a^2/n_a + sd_b^2/n_b))."""
    se = (a['sd'] ** 2 / a['n'] + b['sd'] ** 2 / b['n']) ** 0.5
    return dict(gap=b['mean'] - a['mean'], se=se)


def sampling_effect(table: List[Dict]) -> Optional[Dict]:
    """Class-balanced sampling against the plain recipe, both at the size
    the recipe chose: the gap in test top-1, macro-F1 and each class's
    recall, and the verdict of the rule fixed before the runs. It helps
    when macro-F1 rises by more than twice the standard error of the gap
    and top-1 falls by no more than ``WITHIN_POINTS``; None until both
    arms ran."""
    plain = chosen_size_row(table, 'mbv3')
    balanced = chosen_size_row(table, 'mbv3_balanced')
    if plain is None or balanced is None or not plain['macro_f1'] or \
            not balanced['macro_f1']:
        return None
    top1 = difference(plain['test_top1'], balanced['test_top1'])
    f1 = difference(plain['macro_f1'], balanced['macro_f1'])
    recalls = {name: difference(stat, balanced['recalls'][name])
               for name, stat in plain['recalls'].items()
               if name in balanced['recalls']}
    helps = f1['gap'] > 2 * f1['se'] and top1['gap'] >= -WITHIN_POINTS
    return dict(seeds=[len(plain['seeds']), len(balanced['seeds'])],
                test_top1=top1, macro_f1=f1, recalls=recalls, helps=helps)


def _cell(stat: Optional[Dict], digits: int = 2) -> str:
    if stat is None:
        return '-'
    text = f'{stat["mean"]:.{digits}f}'
    return text + (f' ± {stat["sd"]:.{digits}f}' if stat['n'] > 1 else '')


def render(payload: Dict, compact: bool = False) -> str:
    """The markdown of an ``input_size.json`` payload (``compact``: the
    README's, without the method paragraph)."""
    summary = payload['summary']
    command = short_command(payload['command']) if compact \
        else payload['command']
    lines = [] if compact else [
        f'Input size chosen from the data vs fixed sizes on '
        f'`{payload["dataset"]}` (test split; every run is the recipe '
        'unchanged but for `image_size`: LR finder, automatic epochs '
        f'within a cap of {payload["cap"]}, the monitored metric the recipe '
        'picks, best validated weights shipped). Test top-1 and macro-F1 of '
        'the shipped weights, val top-1 in brackets; recall per class; '
        'latency: OpenVINO FP32 IR at batch 1. Mean ± sd where several '
        'seeds ran.', '']
    lines += [
        f'Command: `{command}`. Machine: {payload["machine"]}.',
        '',
        '| model | image_size | seeds | test top-1 (val) | macro-F1 | '
        'recall per class | epochs | train time | latency |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for t in summary['table']:
        size = (f'auto: {t["image_size"]}' if t['requested'] == AUTO
                else str(t['image_size']))
        recalls = ', '.join(f'{name} {_cell(stat, 1)}'
                            for name, stat in t['recalls'].items())
        latency = '-' if t['latency_ms'] is None \
            else f'{t["latency_ms"]:.2f} ms'
        lines.append(
            f'| {LABELS[t["recipe"]]} | {size} | {len(t["seeds"])} | '
            f'{_cell(t["test_top1"])} ({t["val_top1"]["mean"]:.2f}) | '
            f'{_cell(t["macro_f1"])} | {recalls} | '
            f'{_cell(t["epochs"], 0)} | {t["seconds"]["mean"]:.0f} s | '
            f'{latency} |')
    if payload.get('not_run'):
        lines += ['', 'Planned but not run (not in the run cache): ' +
                  ', '.join(f'{LABELS[r]} at {s} px, seed {seed}'
                            for r, s, seed in payload['not_run']) + '.']
    goals = summary['goals']
    if goals:
        lines += ['', 'Goals (chosen size vs the best fixed size, '
                  f'MobileNetV3-small, within {WITHIN_POINTS:g} point):']
        best = goals['best_fixed_top1']
        lines.append(
            f'- top-1: best fixed {best["image_size"]} px '
            f'{best["test_top1"]:.2f}; chosen '
            f'{goals["chosen_top1_gap"]:+.2f} points: '
            f'{"met" if goals["chosen_top1_within"] else "missed"}; '
            f'training time x{goals["chosen_time_ratio"]:.2f} of it.')
        if 'best_fixed_macro_f1' in goals:
            best = goals['best_fixed_macro_f1']
            lines.append(
                f'- macro-F1: best fixed {best["image_size"]} px '
                f'{best["macro_f1"]:.2f}; chosen '
                f'{goals["chosen_macro_f1_gap"]:+.2f} points: '
                f'{"met" if goals["chosen_macro_f1_within"] else "missed"}.')
    effect = summary.get('balanced')
    if effect:
        def gap(d):
            return f'{d["gap"]:+.2f} (SE {d["se"]:.2f})'
        recalls = ', '.join(f'{name} {gap(d)}'
                            for name, d in effect['recalls'].items())
        rule = '' if compact else (
            'Rule (fixed before the runs): it helps when macro-F1 rises by '
            'more than twice its standard error and top-1 falls by no more '
            f'than {WITHIN_POINTS:g} point: ')
        lines += ['', f'Class-balanced sampling vs the plain recipe at the '
                  f'chosen size ({effect["seeds"][1]} vs '
                  f'{effect["seeds"][0]} seeds): test top-1 '
                  f'{gap(effect["test_top1"])}, macro-F1 '
                  f'{gap(effect["macro_f1"])}; recall {recalls}. {rule}'
                  f'**{"helps" if effect["helps"] else "does not help"}**.']
    return '\n'.join(lines) + '\n'


def ir_latency_ms(cfg, seconds: float) -> float:
    """Median batch-1 latency of the config's model, untrained (latency
    does not depend on the weights), as an OpenVINO FP32 model."""
    import openvino as ov
    import torch
    from mmpretrain.registry import MODELS

    from mmtricks.deploy.latency import openvino_latency
    from mmtricks.engine import apply_data_decisions
    cfg = cfg.copy()
    apply_data_decisions(cfg)
    model = MODELS.build(cfg.model).eval()
    size = cfg.image_size
    example = torch.zeros(1, 3, size, size)

    class Logits(torch.nn.Module):
        def __init__(self, classifier):
            super().__init__()
            self.classifier = classifier

        def forward(self, x):
            return self.classifier(x, mode='tensor')

    ov_model = ov.convert_model(Logits(model), example_input=example)
    core = ov.Core()
    result = openvino_latency(core, ov_model, (1, 3, size, size), seconds,
                              properties={'INFERENCE_PRECISION_HINT': 'f32'})
    return float(result['median_ms'])


def run_benchmark(dataset: str, sizes: Sequence[int], seeds: int,
                  effnet_seeds: int, cap: int, out_dir: str, work_root: str,
                  command: str, machine: str, progress=print, cache=None,
                  latency_seconds: float = 3.0,
                  balanced_seeds: int = 0, first_seed: int = 0,
                  cached_only: bool = False) -> Dict:
    rows = []
    latencies: Dict[tuple, float] = {}
    label = dataset_label(dataset)
    payload = dict(dataset=label, cap=cap, command=command, machine=machine,
                   scored_on=SCORED_ON, rows=rows, not_run=[])
    auto_first = None
    for recipe, size, seed in plan(sizes, seeds, effnet_seeds,
                                   balanced_seeds, first_seed):
        cfg = run_config(dataset, recipe, size, seed, cap, osp.join(
            work_root, f'{label}_{recipe}_{size}_seed{seed}'))
        if (recipe, seed) == ('mbv3', 0) and auto_first is not None and \
                size == chosen_size(auto_first):
            result = auto_first  # the same training, only spelled 'auto'
        else:
            result = cached_train(cache, cfg, cached_only, dataset=label,
                                  recipe=recipe, image_size=size, cap=cap,
                                  seed=seed)
        if result is None:  # --cached-only, and not in the cache
            payload['not_run'].append([recipe, size, seed])
            progress(f'{label} {recipe} {size} px seed {seed}: not run')
            continue
        if (recipe, size, seed) == ('mbv3', AUTO, 0):
            auto_first = result
        chosen = chosen_size(result) or size
        if (RECIPES[recipe], chosen) not in latencies:
            timed = cfg.copy()
            timed.image_size = chosen
            latencies[(RECIPES[recipe], chosen)] = ir_latency_ms(timed,
                                                        latency_seconds)
        rows.append(dict(recipe=recipe, requested=size, seed=seed,
                         result=result,
                         latency_ms=latencies[(RECIPES[recipe], chosen)]))
        progress(f'{label} {recipe} {size} px (ran at {chosen}) seed '
                 f'{seed}: test top-1 {result["test_top1"]:.2f}, macro-F1 '
                 f'{macro_f1(result) or float("nan"):.2f}, '
                 f'{result["epochs"]} epochs, '
                 f'{result["seconds"]:.0f} s')
        payload['summary'] = summarise(rows)
        write_report(out_dir, NAME, payload, render)
    return payload
