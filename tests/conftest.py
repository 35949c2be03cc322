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


def pytest_collection_modifyitems(session, config, items):
    """The deployment tests last. They load OpenVINO and NNCF into the test
    process; in the full suite a later test that decoded and resized images
    crashed the interpreter (SIGSEGV) after them, which no pair of test
    groups reproduced alone. Run last, they can only take themselves down.
    """
    deploy = [i for i in items if '/tests/deploy/' in str(i.fspath)]
    rest = [i for i in items if '/tests/deploy/' not in str(i.fspath)]
    items[:] = rest + deploy
