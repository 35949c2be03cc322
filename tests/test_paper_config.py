import os.path as osp

from conftest import REPO, fast_config, train
from mmtricks.models import AMSoftmaxClsHead
from mmtricks.optim import SAMOptimWrapper

PAPER_MBV3 = osp.join(REPO, 'configs', 'paper_mbv3.py')


def test_paper_config_trains_with_sam_augmix_am_softmax_and_ema(tmp_path):
    from mmengine.hooks import EMAHook
    cfg = fast_config(PAPER_MBV3, work_dir=tmp_path)
    assert [h.type for h in cfg.custom_hooks] == [
        'NumClassesCheckHook', 'PreciseBNStatsHook', 'EMAHook']
    assert 'AugMix' in [t.type for t in cfg.train_dataloader.dataset.pipeline]
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2,
                         val_interval=1000)
    cfg.param_scheduler = []
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type != 'PreciseBNStatsHook']
    runner = train(cfg)
    assert isinstance(runner.optim_wrapper, SAMOptimWrapper)
    assert runner.optim_wrapper.rho == 0.05
    assert isinstance(runner.model.head, AMSoftmaxClsHead)
    assert len(runner.optim_wrapper.param_groups) > 1  # no bias decay
    ema = next(h for h in runner.hooks if isinstance(h, EMAHook))
    assert ema.ema_cfg['momentum'] == 0.001
