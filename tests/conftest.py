import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
AUTO_MBV3 = osp.join(REPO, 'configs', 'auto_mbv3.py')


AUTOMATIC_HOOKS = ('LRFinderHook', 'AutoEpochsHook', 'HealthCheckHook')


def fast_config(path=AUTO_MBV3, work_dir=None, max_epochs=1, **dataset_args):
    """configs/auto_mbv3.py (or ``path``) trimmed for a quick in-process run.

    Trains at the config's LR for exactly ``max_epochs`` with cosine decay:
    the LR finder, the automatic epoch policy (hook and scheduler) and the
    health check are removed (tests of them add them back).
    """
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.init_cfg = None
    cfg.train_cfg.max_epochs = max_epochs
    cfg.default_hooks.logger.interval = 1000
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.update(dataset_args)
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', by_epoch=True, begin=0,
             end=max_epochs, convert_to_iter_based=True)
    ]
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type not in AUTOMATIC_HOOKS]
    return cfg


def bundled_config(path, default_work_dir, bundled='lfw_faces', **settings):
    """A shipped recipe as it is, on a bundled set, loaders in-process,
    ``settings`` merged (``work_dir`` among them overrides the default)."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    cfg.work_dir = str(default_work_dir)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.bundled = bundled
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
    cfg.merge_from_dict(settings)
    return cfg


@pytest.fixture
def make_fast_config(tmp_path):
    def make(**kwargs):
        kwargs.setdefault('work_dir', tmp_path / 'work')
        return fast_config(**kwargs)
    return make


def train(cfg):
    """Build a Runner from ``cfg``, train it, return it."""
    from mmtricks.engine import build_runner
    runner = build_runner(cfg)
    runner.train()
    return runner


def hook_of(runner, hook_type):
    return next(h for h in runner.hooks if isinstance(h, hook_type))


@pytest.fixture(autouse=True)
def sound_signal_stack():
    """Tests make OpenVINO Cores of their own, and two unloaded in the order
    they were made leave a dangling alternate signal stack (the next signal
    handled, e.g. a DataLoader's SIGCHLD, is a SIGSEGV; see
    mmtricks/deploy/openvino_core.py): put a mapped one back after each."""
    yield
    import sys
    if 'openvino' in sys.modules:
        from mmtricks.deploy.openvino_core import repair_signal_stack
        repair_signal_stack()
