"""What ``DataAwareRunner`` does after training and after testing: the
label-noise candidates of the split just evaluated
(:mod:`~mmtricks.engine.label_noise`), then the work dir's
``report.html`` (:mod:`~mmtricks.engine.run_report`).

On rank 0 only. Neither may fail a run that has trained or tested: a
failure is one warning saying what is missing and how to write it again.
"""
import os.path as osp

from mmengine.dist import is_main_process

from .label_noise import write_label_noise
from .run_report import write_report


def write_end_of_run_report(runner, split: str) -> None:
    """``split`` ('val' after training, 'test' after testing)."""
    if not is_main_process():
        return
    work_dir = runner.work_dir
    try:
        # A run without this split (val off) has no gallery of it.
        loader = getattr(runner, f'{split}_dataloader', None)
        if getattr(loader, 'dataset', None) is not None:
            write_label_noise(runner.model, loader.dataset, work_dir, split,
                              batch_size=getattr(loader, 'batch_size', None)
                              or 32)
    except Exception as error:  # the report goes on without a gallery
        runner.logger.warning(
            f'Label-noise candidates of {split} not written '
            f'({type(error).__name__}: {error}); the report has no {split} '
            'gallery.')
    checkpoint = runner.cfg.get('load_from')
    checkpoint = checkpoint if checkpoint and osp.isfile(
        str(checkpoint)) and not runner.trained_here else None
    try:
        path = write_report(work_dir, checkpoint=checkpoint)
    except Exception as error:  # the run itself succeeded
        runner.logger.warning(
            f'Run report not written ({type(error).__name__}: {error}); the '
            f'run itself is fine. Write it again with: python tools/report.py'
            f' {work_dir}')
        return
    runner.logger.info(f'Run report: {path}')
