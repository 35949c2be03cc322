import json
import math
import os.path as osp
import time
from typing import Optional, Sequence, Tuple

import torch
from mmengine.dist import (all_gather_object, all_reduce, get_world_size,
                           is_main_process)
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import HOOKS

from ..compat.private_mmengine import (accumulative_counts,
                                       unlimited_accumulation_window)
from ..optim.lr_range import (SUGGESTION_RULES, centred_smooth,
                              exponential_ramp, has_diverged, suggest_lr)
from ..optim.scheduler.lr_schedule_rescale import (apply_initial_lr,
                                                   check_rescalable,
                                                   lr_schedulers)
from .training_state import TrainingStateSnapshot


def clip_lr(lr: float, bounds: Sequence[float]) -> float:
    low, high = bounds
    return float(min(max(lr, low), high))


@HOOKS.register_module()
class LRFinderHook(Hook):
    """Pick the initial learning rate with an LR range test before training.

    Before the first iteration, trains for a few steps while the LR grows
    exponentially from ``start_lr`` to ``end_lr``, through the run's own
    ``train_step`` (same pipeline, batch augments, optimizer wrapper, AMP and
    gradient accumulation), stopping early when the loss diverges. A rule over
    the ``(lr, loss)`` curve then suggests the LR (see
    :mod:`mmtricks.optim.lr_range`), which is clipped to ``lr_bounds``.

    Afterwards the model, its buffers, the optimizer, the RNG streams and the
    data-loader workers are restored exactly, and the run starts with the new
    LR as if the config had said it: the optimizer's LR and every LR
    scheduler's base values change, so warmup and decay keep their shape
    around it. Param schedulers, EMA, checkpointing and logging hooks are not
    called during the test. Under DDP the loss is averaged over ranks before
    every decision, so all ranks pick the same LR.

    The result (LR and curve) is saved in checkpoints: a resumed run does not
    test again. The curve is written to ``work_dir/lr_finder.json`` and
    plotted to ``lr_finder.png``.

    When the test cannot give an answer, the config's LR is kept and one
    WARNING says why: a loss that is NaN/inf from the first step, a curve
    without descent, or batch size 1.

    A training step that raises an error ends the ramp like a divergence: the
    losses recorded before it are kept and the rule suggests from them when
    they show a descent (one WARNING names the error, in case it is not the
    LR's fault). Every step all-reduces a failure flag with the loss, so
    under DDP all ranks stop together whichever rank failed (an error inside
    DDP's own gradient collectives, between forward and backward, is beyond
    this: the process group's timeout ends it). An error in the very first
    step, at the smallest LR, is a broken config, data or model rather than
    a bad LR: it is raised, on every rank.

    Args:
        start_lr (float): First LR of the ramp. Defaults to 1e-4 (for SGD;
            use about 1e-6 for Adam-type optimizers).
        end_lr (float): Last LR of the ramp. Defaults to 10.
        num_steps (int): Optimizer steps of the ramp (fewer when the loss
            diverges first, as it usually does). Fixed, not a share of the
            run: the same data, model and batch give the same answer
            whatever the run's length (fastai's answer moves with the step
            count). Defaults to 50, the fewest that kept the suggestion
            within x2 over seeds on the bundled sets.
        rule (str): A name in ``SUGGESTION_RULES``: ``'midpoint'`` (middle of
            the main descent), ``'minimum'`` (a tenth of the LR at the
            smoothed minimum, fastai), ``'valley'`` (fastai's default) or
            ``'steepest'`` (torch-lr-finder, Lightning). Defaults to
            ``'midpoint'``, the best and most stable rule in
            ``tools/benchmark.py lr-finder``.
        lr_bounds (tuple[float, float]): The chosen LR is clipped to these.
            Defaults to (1e-4, 1.0), meant for SGD.
        divergence_factor (float): Stop when the smoothed loss exceeds the
            best by this factor (see ``has_diverged``). Defaults to 4.
        plot (bool): Write the PNG plot. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 start_lr: float = 1e-4,
                 end_lr: float = 10.0,
                 num_steps: int = 50,
                 rule: str = 'midpoint',
                 lr_bounds: Sequence[float] = (1e-4, 1.0),
                 divergence_factor: float = 4.0,
                 plot: bool = True):
        exponential_ramp(start_lr, end_lr, 2)  # validates the range
        if rule not in SUGGESTION_RULES:
            raise ValueError(f'Unknown rule {rule!r}; choose one of '
                             f'{sorted(SUGGESTION_RULES)}.')
        if not 0 < lr_bounds[0] < lr_bounds[1]:
            raise ValueError(f'lr_bounds must be 0 < low < high, got {lr_bounds}.')
        if num_steps < 5:
            raise ValueError(f'num_steps must be at least 5, got {num_steps}.')
        self.start_lr = start_lr
        self.end_lr = end_lr
        self.num_steps = num_steps
        self.rule = rule
        self.lr_bounds = tuple(lr_bounds)
        self.divergence_factor = divergence_factor
        self.plot = plot
        self.result: Optional[dict] = None

    # runner events -------------------------------------------------------

    def before_train(self, runner) -> None:
        if self.result is not None or runner.iter > 0:
            if self.result is not None:
                runner.logger.info(
                    f'LR range test already done: lr={self.result["lr"]:.4g} '
                    '(from the checkpoint).')
            return
        if isinstance(runner.optim_wrapper, OptimWrapperDict):
            raise ValueError('LRFinderHook supports a single optimizer; '
                             'remove it for multi-optimizer configs.')
        schedulers = lr_schedulers(runner.param_schedulers)
        check_rescalable(schedulers)
        self.result = self.find(runner)
        if self.result['lr'] != self.result['config_lr']:
            apply_initial_lr(runner, self.result['lr'])
        if is_main_process():
            self.write_outputs(runner.work_dir)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.result is not None:
            checkpoint['lr_finder'] = self.result

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'lr_finder' in checkpoint:
            self.result = checkpoint['lr_finder']

    # the test --------------------------------------------------------------

    def find(self, runner) -> dict:
        """Run the range test and return the result (does not apply it)."""
        optimizer = runner.optim_wrapper.optimizer
        config_lr = optimizer.param_groups[0].get(
            'initial_lr', optimizer.param_groups[0]['lr'])
        num_steps = self.num_steps
        lrs = exponential_ramp(self.start_lr, self.end_lr, num_steps)
        start = time.perf_counter()
        problem, losses, step_error = None, [], None
        if runner.train_dataloader.batch_size in (None, 1):
            problem = ('batch size 1 gives no usable loss curve (and no BN '
                       'statistics)')
        else:
            snapshot = TrainingStateSnapshot(runner)
            try:
                losses, step_error = self._ramp(runner, lrs)
            finally:
                snapshot.restore()
        seconds = time.perf_counter() - start
        tested = lrs[:len(losses)]
        suggestions = {name: suggest_lr(tested, losses, name)
                       for name in SUGGESTION_RULES} if losses else {}
        suggested = suggestions.get(self.rule)
        if problem is None:
            problem = self._why_no_answer(losses, suggested, step_error)
        lr = config_lr if problem else clip_lr(suggested, self.lr_bounds)
        result = dict(
            lr=float(lr), config_lr=float(config_lr), rule=self.rule,
            suggested=suggested, suggestions=suggestions,
            lrs=[float(x) for x in tested], losses=[float(x) for x in losses],
            steps=len(losses), planned_steps=num_steps, seconds=seconds,
            training_iters=runner.max_iters, fallback_reason=problem,
            step_error=step_error)
        self._log(runner, result)
        return result

    def _ramp(self, runner, lrs):
        wrapper = runner.optim_wrapper
        groups = wrapper.optimizer.param_groups
        base = groups[0]['lr']
        ratios = [g['lr'] / base if base else 1.0 for g in groups]
        micro_steps = accumulative_counts(wrapper)
        batches = _cycle(runner.train_dataloader)
        model = runner.model
        model.train()
        losses = []
        step_error = None
        # MMEngine shrinks the last accumulation window of the run to fit
        # `max_iters`; the test's micro-steps are not the run's, and on a
        # short run they would count past its end (a zero loss factor).
        # The snapshot restores the counter; this restores the limit.
        with unlimited_accumulation_window(wrapper):
            for lr in lrs:
                for group, ratio in zip(groups, ratios):
                    group['lr'] = lr * ratio
                try:
                    loss, error = _train_step(model, batches, wrapper,
                                              micro_steps), None
                except Exception as caught:  # decided below, on every rank
                    loss, error = 0.0, caught
                loss, failed_ranks = _reduce_step(loss, error is not None)
                if failed_ranks:
                    step_error = _describe_step_errors(error, lr)
                    if not losses:
                        _raise_first_step_error(runner, error, step_error)
                    break
                losses.append(loss)
                if has_diverged(losses, self.divergence_factor):
                    break
        return losses, step_error

    @staticmethod
    def _why_no_answer(losses, suggested,
                       step_error: Optional[str] = None) -> Optional[str]:
        if not losses or not math.isfinite(losses[0]):
            return ('the loss was NaN/inf from the first step, at the '
                    'smallest LR: check the data, labels and model, this is '
                    'not an LR problem')
        if suggested is None and step_error:
            return (f'{step_error}, and the {len(losses)} steps before it '
                    'show no usable descent')
        if suggested is None:
            return 'the loss never went down over the whole LR range'
        return None

    def _log(self, runner, result) -> None:
        share = 100.0 * result['steps'] / max(result['training_iters'], 1)
        if result['step_error'] and not result['fallback_reason']:
            runner.logger.warning(
                f'LR range test: {result["step_error"]}; taken as divergence, '
                f'the LR comes from the {result["steps"]} steps before it. If '
                'that error is not caused by a too high LR (a corrupt sample, '
                'say), fix it: training would hit it too.')
        if result['fallback_reason']:
            runner.logger.warning(
                f'LR range test gave no answer ({result["fallback_reason"]}); '
                f'keeping the config LR {result["config_lr"]:.4g}.')
            return
        clipped = '' if result['lr'] == result['suggested'] else \
            f' (suggested {result["suggested"]:.4g}, clipped to {self.lr_bounds})'
        runner.logger.info(
            f'LR range test: lr={result["lr"]:.4g}{clipped} by rule '
            f'{self.rule!r} (config lr {result["config_lr"]:.4g}); '
            f'{result["steps"]} steps in {result["seconds"]:.1f} s, '
            f'{share:.1f}% of the {result["training_iters"]} training '
            'iterations.')

    def write_outputs(self, work_dir: str) -> None:
        with open(osp.join(work_dir, 'lr_finder.json'), 'w') as f:
            json.dump(self.result, f, indent=1)
        if self.plot and self.result['losses']:
            plot_curve(self.result, osp.join(work_dir, 'lr_finder.png'))


def _cycle(dataloader):
    """Batches without end: a short loader is walked again, not 'diverged'."""
    while True:
        yielded = False
        for batch in dataloader:
            yielded = True
            yield batch
        if not yielded:
            raise ValueError('The training dataloader is empty.')


def _train_step(model, batches, wrapper, micro_steps: int) -> float:
    """One optimizer step of the run's own ``train_step``; its mean loss."""
    loss = 0.0
    for _ in range(micro_steps):
        log_vars = model.train_step(next(batches), optim_wrapper=wrapper)
        loss += _as_float(log_vars['loss']) / micro_steps
    return loss


def _as_float(value) -> float:
    # `train_step` returns the loss still attached to the graph.
    if isinstance(value, torch.Tensor):
        return value.detach().item()
    return float(value)


def _reduce_step(loss: float, failed: bool) -> Tuple[float, int]:
    """Mean loss over ranks and how many ranks failed, in one all-reduce.

    Every rank calls this once per step, failed or not, so no rank waits in
    a collective that a failed rank never reaches, and all ranks see the same
    flag and take the same path. A failed rank contributes 0 to the loss,
    which is then meaningless and not recorded.

    Args:
        loss (float): This rank's loss of the step.
        failed (bool): Whether this rank's step raised an error.

    Returns:
        tuple[float, int]: The loss averaged over ranks, and the number of
        ranks whose step failed.
    """
    tensor = torch.tensor([0.0 if failed else loss, float(failed)],
                          dtype=torch.float64)
    all_reduce(tensor, op='sum')
    return tensor[0].item() / get_world_size(), int(round(tensor[1].item()))


def _describe_step_errors(error: Optional[BaseException], lr: float) -> str:
    """One line naming the error of every failed rank (a collective: every
    rank calls it once some rank failed)."""
    mine = None if error is None else f'{type(error).__name__}: {error}'
    texts = all_gather_object(mine)
    failed = [(rank, text) for rank, text in enumerate(texts)
              if text is not None]
    if len(texts) == 1:
        where = ''
    else:
        where = ' on rank ' + ', '.join(str(rank) for rank, _ in failed)
    errors = '; '.join(text for _, text in failed)
    return f'a training step failed at lr {lr:.3g}{where} ({errors})'


def _raise_first_step_error(runner, error: Optional[BaseException],
                            description: str) -> None:
    """Raise the error of a first step: that is not the LR's fault."""
    advice = (f'LR range test: {description}, in the first step, at the '
              'smallest LR: a broken config, data or model, not a bad '
              'learning rate. Fix it: training would fail the same way.')
    if error is None:  # another rank failed; this one stops with it
        raise RuntimeError(advice)
    if hasattr(error, 'add_note'):  # Python >= 3.11
        error.add_note(advice)
    else:
        runner.logger.error(advice)
    raise error


def plot_curve(result: dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    lrs, losses = result['lrs'], result['losses']
    finite = [(lr, loss) for lr, loss in zip(lrs, losses) if math.isfinite(loss)]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if finite:
        x, y = zip(*finite)
        ax.plot(x, y, color='0.7', label='loss')
        if len(y) >= 3:
            smoothed = centred_smooth(y)
            ax.plot(x, smoothed, color='C0', label='smoothed')
            # Zoom on the descent: the divergence at the end dwarfs it.
            span = max(smoothed[0] - smoothed.min(), 1e-3)
            ax.set_ylim(smoothed.min() - 0.2 * span, smoothed[0] + 0.6 * span)
    for name, lr in result['suggestions'].items():
        if lr is not None:
            ax.axvline(lr, linestyle=':', color='0.5')
            ax.text(lr, ax.get_ylim()[1], name, rotation=90, va='top',
                    fontsize=7)
    ax.axvline(result['lr'], color='C3',
               label=f'chosen lr {result["lr"]:.3g}')
    ax.set_xscale('log')
    ax.set_xlabel('learning rate')
    ax.set_ylabel('training loss')
    ax.set_title(f'LR range test ({result["steps"]} steps, '
                 f'{result["seconds"]:.1f} s)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
