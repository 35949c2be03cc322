"""Training one run and recording its result: the step the run cache
stores, so its source is part of every run's key (``runs.code_digest``)."""
import time
from typing import Dict


def train_once(cfg) -> Dict:
    """Train; return final val top-1, wall time, epochs and finder facts.

    Args:
        cfg: A full MMEngine config (``runs.bundled_config`` makes one).
    """
    from mmengine.runner import Runner

    from mmtricks.hooks import AutoEpochsHook, LRFinderHook
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    seconds = time.perf_counter() - start
    history = runner.message_hub.get_scalar('val/accuracy/top1')
    auto = next((h for h in runner.hooks if isinstance(h, AutoEpochsHook)),
                None)
    shipped_by_auto = auto is not None and auto.state.best is not None
    # `top1` is what the run ships (AutoEpochsHook restores its best weights);
    # `best_top1` the best of its validations (a selection on the validation
    # set, optimistic for every recipe).
    top1 = auto.state.best if shipped_by_auto else history.current()
    result = dict(top1=float(top1), best_top1=float(max(history.data[0])),
                  seconds=seconds, epochs=runner.epoch,
                  lr=cfg.optim_wrapper.optimizer.lr)
    if shipped_by_auto:
        result['auto_trace'] = [list(t) for t in auto.state.trace]
    finder = next((h for h in runner.hooks if isinstance(h, LRFinderHook)),
                  None)
    if finder is not None:
        found = finder.result
        result.update(lr=found['lr'], finder_seconds=found['seconds'],
                      finder_steps=found['steps'],
                      suggestions=found['suggestions'],
                      curve=dict(lrs=found['lrs'], losses=found['losses']),
                      fallback=found['fallback_reason'])
    return result
