"""The training curves of the run report: train loss, LR and the monitored
metric per epoch, with AutoEpochs' anneal start and stop marked, and the
per-class numbers of val and test, all from the work dir's scalars and
logs."""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

from .report_html import figure_png, image, missing, new_figure

ANNEAL = re.compile(r'AutoEpochs: at epoch (\d+),.*annealing')
STOP = re.compile(r'AutoEpochs: stopping at epoch (\d+)')
DEFAULT_MONITOR = 'accuracy/top1'
CLASS_PREFIX = 'class/'
MEASURES = ('precision', 'recall', 'f1-score')


def is_train(line: Dict) -> bool:
    return 'loss' in line and 'epoch' in line


def is_val(line: Dict) -> bool:
    return 'step' in line and not is_train(line)


def is_test(line: Dict) -> bool:
    return 'step' not in line and 'epoch' not in line


def per_epoch(scalars: List[Dict]) -> Dict[int, Dict]:
    """``{epoch: {loss (mean of the logged), lr (last logged)}}``; a later
    run (a resume) replaces an epoch's numbers."""
    epochs: Dict[int, Dict] = OrderedDict()
    for line in scalars:
        if is_train(line):
            entry = epochs.setdefault(int(line['epoch']),
                                      dict(losses=[], lr=None))
            if entry['lr'] is not None and line.get('iter') is not None \
                    and line['iter'] <= entry.get('iter', -1):
                entry['losses'] = []  # resumed: this run's numbers win
            entry['losses'].append(float(line['loss']))
            entry['lr'] = float(line.get('lr', line.get('base_lr', 0)))
            entry['iter'] = line.get('iter', -1)
    return {e: dict(loss=sum(v['losses']) / len(v['losses']), lr=v['lr'])
            for e, v in sorted(epochs.items())}


def val_by_epoch(scalars: List[Dict]) -> Dict[int, Dict]:
    return {int(line['step']): line for line in scalars if is_val(line)}


def last_test(scalars: List[Dict]) -> Optional[Dict]:
    tests = [line for line in scalars if is_test(line)
             and any(k.startswith(CLASS_PREFIX) or k.startswith('accuracy')
                     for k in line)]
    return tests[-1] if tests else None


def policy_marks(log: List[str]) -> Tuple[Optional[int], Optional[int]]:
    """The epochs AutoEpochs started the anneal and stopped at (last
    mention wins: a resumed run logs again)."""
    anneal = stop = None
    for line in log:
        found = ANNEAL.search(line)
        anneal = int(found.group(1)) if found else anneal
        found = STOP.search(line)
        stop = int(found.group(1)) if found else stop
    return anneal, stop


def monitor_of(facts: Dict) -> str:
    return facts['decisions'].get('monitor') or DEFAULT_MONITOR


def curves_section(facts: Dict) -> str:
    train = per_epoch(facts['scalars'])
    val = val_by_epoch(facts['scalars'])
    if not train:
        return missing('No training scalars in this work dir '
                       '(<timestamp>/vis_data/scalars.json): a test-only run.')
    monitor = monitor_of(facts)
    anneal, stop = policy_marks(facts['log'])
    fig, axes = new_figure(1, 3, size=(12, 3.2))
    series = [('train loss', list(train), [v['loss'] for v in train.values()]),
              ('LR', list(train), [v['lr'] for v in train.values()]),
              (f'val {monitor}', [e for e in val if monitor in val[e]],
               [val[e][monitor] for e in val if monitor in val[e]])]
    for axis, (title, xs, ys) in zip(axes[0], series):
        axis.plot(xs, ys, marker='o', markersize=3)
        axis.set_title(title)
        axis.set_xlabel('epoch')
        if anneal is not None:
            axis.axvline(anneal, color='tab:orange', linestyle='--',
                         label=f'anneal from epoch {anneal}')
        if stop is not None:
            axis.axvline(stop, color='tab:red', linestyle=':',
                         label=f'stop at epoch {stop}')
        if anneal is not None or stop is not None:
            axis.legend(fontsize=7)
    note = []
    if anneal is not None:
        note.append(f'AutoEpochs started the anneal at epoch {anneal}.')
    if stop is not None:
        note.append(f'It stopped training at epoch {stop}.')
    if anneal is None and stop is None:
        note.append('No AutoEpochs anneal or stop in the log.')
    return (image(figure_png(fig), 'loss, LR and metric per epoch') +
            f'<p>{" ".join(note)} Loss: mean of the logged iterations of '
            'each epoch; LR: the last logged.</p>')


def class_rows(line: Dict) -> List[List]:
    """``[class, precision, recall, f1]`` rows from a metrics line."""
    names = []
    for key in line:
        if key.startswith(CLASS_PREFIX + 'recall/'):
            names.append(key[len(CLASS_PREFIX + 'recall/'):])
    return [[name] + [line.get(f'{CLASS_PREFIX}{m}/{name}', '-')
                      for m in MEASURES] for name in names]


def best_val(facts: Dict) -> Tuple[Optional[int], Optional[Dict]]:
    """The val line of the best epoch on the monitored metric."""
    val = val_by_epoch(facts['scalars'])
    monitor = monitor_of(facts)
    scored = [(line[monitor], epoch) for epoch, line in val.items()
              if monitor in line]
    if not scored:
        return None, None
    # MMEngine's 'greater' rule keeps the first of equal values.
    epoch = max(scored, key=lambda s: (s[0], -s[1]))[1]
    return epoch, val[epoch]
