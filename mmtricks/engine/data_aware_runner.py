"""MMEngine's Runner, with the recipe's decisions from the data made first.

``runner_type = 'DataAwareRunner'`` in a config is all it takes (MMPretrain's
``tools/train.py`` and ``tools/test.py``, hence ``mim train`` / ``mim test``,
build ``RUNNERS.build(cfg)`` when the config names a runner type). Training,
testing and every hook are MMEngine's; this class only:

- fills the config's data placeholders before anything is built
  (:func:`~mmtricks.engine.recipe_config.apply_data_decisions`), so that the
  model's head, the pipelines and the epoch policy follow the user's folder;
- chooses torch's threads and the loaders' ``num_workers='auto'`` for the
  machine (:func:`~mmtricks.engine.cpu_settings.apply_cpu_settings`) and,
  with CUDA, mixed precision, pinned memory and cuDNN autotuning
  (:func:`~mmtricks.engine.gpu_settings.apply_gpu_settings`);
- honours ``compile`` (True, a dict of torch.compile arguments, or
  ``'auto'``) by compiling the model's training forward rather than
  MMEngine's whole ``train_step`` (:mod:`~mmtricks.engine.compile_settings`);
- logs each decision once, with its reason, and hides on its logger the
  upstream lines that ask nothing of the user
  (:mod:`~mmtricks.compat.upstream_noise`; ``log_level='DEBUG'`` shows them);
- stores the decisions in every checkpoint it saves
  (``meta['data_decisions']``), so that ``mim test``, ``--resume`` and
  ``tools/deploy.py`` use the size the model was trained at;
- refuses a checkpoint trained on other classes than the data's
  (:mod:`~mmtricks.engine.checkpoint_match`) when it resumes, tests or
  validates one; ``load_from`` before training is fine-tuning, and only
  says that the head does not fit.

The decisions are pure functions of the files, so every rank of a
distributed run makes the same ones without communicating.
"""
import copy
import os
import os.path as osp
from contextlib import nullcontext

from mmengine.dist import is_main_process
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..compat.upstream_noise import hide_upstream_noise
from .backbone_choice import CANDIDATES_KEY, settle_backbone
from .checkpoint_match import (check_checkpoint_classes, class_difference,
                               config_data, read_checkpoint_facts)
from .compile_settings import install_compile_hook
from .cpu_settings import apply_cpu_settings
from .data_checks import (FILE_NAME, DataChecks, run_data_checks,
                          write_detail)
from .end_of_run_report import write_end_of_run_report
from .gpu_settings import apply_gpu_settings
from .recipe_config import (META_KEY, DataDecisions, apply_data_decisions,
                            checkpoint_to_load, stored_decisions)
from .thread_measurement import apply_measured_threads
from .time_budget import plan_time_budget
from .work_dir_lock import busy_with, work_dir_lock

RUNNER_TYPE = 'DataAwareRunner'


# MMEngine's root registry: MMPretrain's tools/train.py builds runners from
# it before any default scope is set, and MMPretrain's own registry finds it
# there through its parent.
@RUNNERS.register_module()
class DataAwareRunner(Runner):
    """A Runner whose config's data placeholders are decided from the data.

    ``data_decisions`` holds what was decided (:class:`DataDecisions`).
    """

    data_decisions: DataDecisions = DataDecisions()
    #: What the data checks found (logged by train(), or by test()).
    data_checks: DataChecks = DataChecks()
    #: Whether train() ran: its head then replaced the loaded one.
    trained_here: bool = False

    @classmethod
    def from_cfg(cls, cfg) -> 'DataAwareRunner':
        cfg = copy.deepcopy(cfg)
        # First the backbone a resumed or tested checkpoint was trained
        # with: the budget would choose one again.
        backbone_line = settle_backbone(
            cfg, stored_decisions(checkpoint_to_load(cfg)), prior=False) \
            if cfg.get(CANDIDATES_KEY) else None
        # Before the data decisions: the budget sets the size cap they use
        # (and with backbone_candidates, chooses the backbone).
        plan = plan_time_budget(cfg, _stored_plan(cfg))
        decisions = apply_data_decisions(cfg)
        if backbone_line:
            decisions.reasons.insert(0, backbone_line)
        if plan is not None:
            decisions.time_budget = plan.to_meta()
            decisions.reasons.append(plan.reason)
        if cfg.get('resume') and checkpoint_to_load(cfg):
            # Before anything is built: resuming on other classes would
            # train a random head on under the old one's history.
            check_checkpoint_classes(
                read_checkpoint_facts(checkpoint_to_load(cfg)),
                decisions.classes, config_data(cfg))
        # Duplicates and image statistics (engine/data_checks.py), before
        # anything is built: cross_split_duplicates='drop' changes val/test.
        checks = run_data_checks(cfg)
        # After the data decisions: whether images sit in memory depends on
        # the size they settled.
        machine = apply_cpu_settings(cfg) + apply_gpu_settings(cfg)
        # Kept in the config the work dir gets, so that the dumped config
        # builds this runner again (it has nothing left to decide).
        cfg['runner_type'] = RUNNER_TYPE
        runner = super().from_cfg(cfg)
        runner.data_decisions = decisions
        runner.data_checks = checks
        for reason in decisions.reasons:
            runner.logger.info(f'Data decision: {reason}')
        for line in machine:
            runner.logger.info(line)
        return runner

    def train(self):
        checkpoint = self.cfg.get('load_from')
        if checkpoint and not self.cfg.get('resume') and \
                osp.isfile(osp.expanduser(str(checkpoint))):
            # load_from before training is fine-tuning, to any classes.
            difference = class_difference(read_checkpoint_facts(checkpoint),
                                          self.data_decisions.classes,
                                          config_data(self.cfg))
            if difference:
                self.logger.info(
                    f'load_from: {checkpoint} {difference}; fine-tuning: '
                    'its head is retrained for these classes (MMEngine does '
                    'not load a head of another shape).')
        self.trained_here = True
        # After the model is built (its real steps are timed), before the
        # first step; replaces the load-average guess of apply_cpu_settings.
        line = apply_measured_threads(
            self.model, self.cfg, self.cfg.train_dataloader.get('batch_size'),
            self.data_decisions.image_size)
        if line:
            self.logger.info(line)
        # One training run per work dir (rank 0 holds the lock; a refused
        # rank 0 ends the whole distributed launch).
        with work_dir_lock(self.work_dir) if is_main_process() \
                else nullcontext():
            self._report_data_checks(write=True)
            model = super().train()
            write_end_of_run_report(self, 'val')
            return model

    def build_logger(self, *args, **kwargs):
        """MMEngine's, with upstream's noise lowered to DEBUG on it: the
        run's logger is the current MMLogger, which MMEngine's and
        MMPretrain's messages go to during the run."""
        return hide_upstream_noise(super().build_logger(*args, **kwargs))

    def _maybe_compile(self, target: str) -> None:
        """MMEngine compiles the whole ``train_step`` here, optimizer step
        included, which dynamo fails on; the ``compile`` setting compiles
        the model's training forward instead (engine/compile_settings.py).
        A private MMEngine method: fenced in
        tests/compat/test_private_upstream.py."""
        install_compile_hook(self, self.cfg.get('compile'))

    def dump_config(self) -> None:
        """MMEngine's, except into a work dir another run trains in: its
        dumped config is that run's, and this run is refused by train()."""
        holder = busy_with(self.work_dir) if is_main_process() else None
        if holder is None:
            super().dump_config()
        else:
            self.logger.warning(
                f'Config not written to {self.work_dir}: {holder} trains '
                'there (its config is kept).')

    def val(self):
        self._check_loaded_classes()
        return super().val()

    def test(self):
        self._check_loaded_classes()
        if not self.trained_here:
            self._report_data_checks(write=False)
        metrics = super().test()
        write_end_of_run_report(self, 'test')
        return metrics

    def _report_data_checks(self, write: bool) -> None:
        """Log the data checks, one line each; training (rank 0) writes
        their detail into the work dir (a test run leaves the training
        run's file as it is)."""
        where = f'{FILE_NAME} not written (test run)'
        if write and self.data_checks.detail:
            where = osp.join(self.work_dir, FILE_NAME)
            if is_main_process():
                write_detail(self.work_dir, self.data_checks.detail)
        for level, line in self.data_checks.lines(where):
            getattr(self.logger, level)(line)

    def _check_loaded_classes(self) -> None:
        """Testing a checkpoint (``mim test`` sets ``load_from``) on data
        of other classes reports a random or misnamed head: refused."""
        checkpoint = checkpoint_to_load(self.cfg)
        if checkpoint and not self.trained_here:
            check_checkpoint_classes(read_checkpoint_facts(checkpoint),
                                     self.data_decisions.classes,
                                     config_data(self.cfg))

    def save_checkpoint(self, out_dir, filename, *args, meta=None, **kwargs):
        """MMEngine's, with the decisions in ``meta``, written whole or not
        at all: a run killed mid-write (CheckpointHook rewrites the latest
        epoch's file after each new best) leaves the previous file intact,
        so ``--resume`` always finds a complete checkpoint."""
        meta = dict(meta or {})
        meta[META_KEY] = self.data_decisions.to_meta()
        if '://' in str(out_dir):  # a remote backend: MMEngine's own write
            return super().save_checkpoint(out_dir, filename, *args,
                                           meta=meta, **kwargs)
        partial = partial_name(filename)
        super().save_checkpoint(out_dir, partial, *args, meta=meta, **kwargs)
        if is_main_process():
            os.replace(osp.join(out_dir, partial), osp.join(out_dir, filename))


def _stored_plan(cfg):
    """The time budget's plan of the checkpoint a run resumes, if any."""
    if not cfg.get('resume') or not cfg.get('time_budget'):
        return None
    return (stored_decisions(checkpoint_to_load(cfg)) or {}).get(
        'time_budget')


def partial_name(filename: str) -> str:
    """Where a checkpoint is written before it is complete (hidden, and
    not ``*.pth``, so nothing takes it for a checkpoint)."""
    folder, name = osp.split(filename)
    return osp.join(folder, f'.{name}.partial')


def build_runner(cfg) -> Runner:
    """The runner ``cfg`` asks for, as MMPretrain's ``tools/train.py``
    builds it: ``RUNNERS.build`` when it names a ``runner_type``, else
    MMEngine's ``Runner.from_cfg``."""
    if cfg.get('runner_type'):
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
