"""Training one run and scoring it: the step the run cache stores, so its
source is part of every run's key (``runs.code_digest``).

One scoring rule for every recipe of every benchmark: a recipe may use the
validation split however it likes to decide (its epochs, the weights it
keeps, the oracle's cell), and what is reported is the **test** top-1 of the
weights it ships, i.e. of the model the runner holds once ``runner.train()``
has returned. Validation top-1 of those same weights is reported alongside.
Nothing here reads a hook's attributes: a recipe's choices show only in the
weights it leaves in the model and in the scalars it logged.
"""
import math
import time
from typing import Dict, List, Optional, Sequence, Tuple

#: Fields every scored result carries; a stored result without them was
#: scored under an older rule and is trained again (``RunCache``).
SCORE_FIELDS = ('test_top1', 'val_top1')

#: A run whose shipped weights score within this many points of the
#: majority-class share on val (or below it) learned nothing.
CHANCE_MARGIN = 1.0

METRIC = 'accuracy/top1'


def majority_share(labels: Sequence[int]) -> float:
    """Top-1 (%) of always answering the most frequent class.

    Args:
        labels: The ground-truth labels of a split.
    """
    labels = [int(x) for x in labels]
    if not labels:
        raise ValueError('majority_share of an empty split')
    counts: Dict[int, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return 100.0 * max(counts.values()) / len(labels)


def is_diverged(result: Dict, margin: float = CHANCE_MARGIN) -> bool:
    """Whether a scored run diverged: a non-finite training loss, or val
    top-1 of its shipped weights at chance (within ``margin`` points of the
    majority-class share, or below it).

    Args:
        result: What :func:`score_result` returns.
        margin: Points above the majority share still counted as chance.
    """
    val = result['val_top1']
    if not result.get('finite_loss', True) or not math.isfinite(val):
        return True
    return val <= result['val_majority_top1'] + margin


def best_validation(history: Sequence[Tuple[int, float]]
                    ) -> Tuple[Optional[int], Optional[float]]:
    """The first epoch (or iteration) with the best val top-1 of a run's
    validations, and that top-1; (None, None) when it never validated.

    Args:
        history: ``(step, top-1)`` per validation, in order.
    """
    finite = [(s, v) for s, v in history if math.isfinite(v)]
    if not finite:
        return None, None
    best = max(v for _, v in finite)
    return next(s for s, v in finite if v == best), best


def validation_history(log_dir: str, metric: str = METRIC
                       ) -> List[Tuple[int, float]]:
    """``(step, value)`` of every validation a run logged to
    ``log_dir/vis_data/scalars.json`` (MMEngine's ``LocalVisBackend``).

    Args:
        log_dir: The runner's ``log_dir``.
        metric: The validation metric's name.
    """
    import json
    import os.path as osp
    path = osp.join(log_dir, 'vis_data', 'scalars.json')
    if not osp.isfile(path):
        return []
    history = []
    with open(path) as f:
        for line in f:
            if line.strip():
                entry = json.loads(line)
                if metric in entry:
                    history.append((int(entry['step']), float(entry[metric])))
    return history


def score_result(val_top1: float, test_top1: float, val_labels, losses,
                 history: Sequence[Tuple[int, float]], seconds: float,
                 epochs: int, lr: float) -> Dict:
    """A run's result under the one scoring rule (a pure function).

    Args:
        val_top1: Val top-1 of the shipped weights.
        test_top1: Test top-1 of the shipped weights: the reported score.
        val_labels: The val split's labels (for the chance level).
        losses: The training losses logged.
        history: ``(step, val top-1)`` of the validations during training.
        seconds: Training wall time.
        epochs: Epochs trained (where the run stopped).
        lr: The initial LR.
    """
    best_epoch, best_val = best_validation(history)
    result = dict(
        top1=float(test_top1), test_top1=float(test_top1),
        val_top1=float(val_top1),
        best_val_top1=None if best_val is None else float(best_val),
        best_val_epoch=best_epoch,
        final_val_top1=float(history[-1][1]) if history else None,
        val_history=[[int(s), float(v)] for s, v in history],
        val_majority_top1=majority_share(val_labels),
        finite_loss=all(math.isfinite(float(x)) for x in losses),
        seconds=float(seconds), epochs=int(epochs), lr=float(lr))
    result['diverged'] = is_diverged(result)
    return result


#: Test metrics kept beside top-1 when the evaluator reports them (the
#: shipped configs' SingleLabelMetric, named by PerClassReportHook).
KEPT_TEST_METRICS = ('macro/', 'class/recall/', 'class/precision/')


def kept_metrics(metrics: Dict) -> Dict[str, float]:
    """Macro and per-class scalars of an evaluation, as floats."""
    return {k: float(v) for k, v in metrics.items()
            if k.startswith(KEPT_TEST_METRICS) and
            isinstance(v, (int, float))}


def evaluate_shipped(runner) -> Tuple[float, float, Dict[str, float]]:
    """Val and test top-1 of the model the runner holds now (after
    ``runner.train()``: the weights the recipe ships), through the runner's
    own loops so that hooks which change what is evaluated (``EMAHook``
    swapping its averaged weights in) do what they do in ``mim test``.

    Args:
        runner: A trained runner with val and test loaders and evaluators.
    """
    val = runner.val_loop.run()
    test = runner.test_loop.run()
    for name, metrics in (('val', val), ('test', test)):
        if METRIC not in metrics:
            raise KeyError(f'The {name} evaluator reports {sorted(metrics)}, '
                           f'not {METRIC!r}: the benchmark scores top-1 '
                           f'(set {name}_evaluator to Accuracy, topk=(1, )).')
    return float(val[METRIC]), float(test[METRIC]), kept_metrics(test)


def train_and_score(cfg):
    """Train ``cfg``; score the weights it ships; return (result, runner).

    Args:
        cfg: A full MMEngine config (``runs.bundled_config`` makes one) with
            ``test_dataloader``, ``test_cfg`` and ``test_evaluator``.
    """
    from mmtricks.engine import build_runner
    from mmtricks.hooks import LRFinderHook
    runner = build_runner(cfg)
    start = time.perf_counter()
    runner.train()
    seconds = time.perf_counter() - start
    # Read before the shipped weights are validated below, which logs one
    # more val line at the last step.
    history = validation_history(runner.log_dir)
    hub = runner.message_hub
    losses = hub.get_scalar('train/loss').data[0] \
        if 'train/loss' in hub.log_scalars else []
    val_top1, test_top1, test_metrics = evaluate_shipped(runner)
    result = score_result(
        val_top1, test_top1, runner.val_dataloader.dataset.get_gt_labels(),
        losses, history, seconds, runner.epoch,
        cfg.optim_wrapper.optimizer.lr)
    result['test_metrics'] = test_metrics
    decisions = getattr(runner, 'data_decisions', None)
    if decisions is not None:  # DataAwareRunner's choices, e.g. the size
        result['data_decisions'] = decisions.to_meta()
    finder = next((h for h in runner.hooks if isinstance(h, LRFinderHook)),
                  None)
    if finder is not None:
        found = finder.result
        result.update(lr=found['lr'], finder_seconds=found['seconds'],
                      finder_steps=found['steps'],
                      suggestions=found['suggestions'],
                      curve=dict(lrs=found['lrs'], losses=found['losses']),
                      fallback=found['fallback_reason'])
    return result, runner


def train_once(cfg) -> Dict:
    """Train ``cfg`` and score it (:func:`train_and_score`'s result).

    Args:
        cfg: A full MMEngine config.
    """
    return train_and_score(cfg)[0]
