"""ChannelsLastHook: NHWC while training, a normal model everywhere else."""
from types import SimpleNamespace

import torch
from torch import nn

from mmtricks.hooks import ChannelsLastHook


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 4, 3), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten())


def is_cl(t):
    return t.dim() == 4 and t.is_contiguous(
        memory_format=torch.channels_last) and not t.is_contiguous()


def test_trains_in_channels_last_and_hands_back_a_normal_model():
    runner = SimpleNamespace(model=model())
    reference = model()
    x = torch.randn(2, 3, 9, 9)
    params = list(runner.model.parameters())
    optimizer = torch.optim.SGD(params, lr=0.1)
    hook = ChannelsLastHook()
    hook.before_train(runner)
    weight = runner.model[0].weight
    assert is_cl(weight)
    assert list(runner.model.parameters())[0] is params[0]  # same objects
    # the optimizer still updates the model's own parameters
    runner.model(x).sum().backward()
    optimizer.step()
    assert not torch.equal(weight, reference[0].weight)
    checkpoint = dict(state_dict=runner.model.state_dict())
    hook.before_save_checkpoint(runner, checkpoint)
    assert not any(is_cl(v) for v in checkpoint['state_dict'].values())
    assert torch.equal(checkpoint['state_dict']['0.weight'], weight)
    hook.after_train(runner)
    assert not any(is_cl(p) for p in runner.model.parameters())


def test_same_outputs_as_the_default_layout():
    runner = SimpleNamespace(model=model().eval())
    x = torch.randn(2, 3, 9, 9)
    expected = runner.model(x)
    ChannelsLastHook().before_train(runner)
    torch.testing.assert_close(runner.model(x), expected)


def test_disabled_changes_nothing():
    runner = SimpleNamespace(model=model())
    ChannelsLastHook(enabled=False).before_train(runner)
    assert not is_cl(runner.model[0].weight)


def test_in_the_recipe_with_lr_finder_precise_bn_and_checkpoints(
        make_fast_config, tmp_path):
    """One epoch of configs/auto_mbv3.py on lfw_faces at 16 px with the LR
    range test, precise BN and checkpoints: the range test ran in NHWC,
    the checkpoint and the trained model are in the default layout and
    load into a fresh model."""
    from conftest import hook_of, train
    from mmpretrain.registry import MODELS

    from mmtricks.compat.checkpoint_loading import load_checkpoint_file
    from mmtricks.hooks import LRFinderHook
    cfg = make_fast_config(bundled='lfw_faces', image_size=16)
    cfg.model.head.num_classes = 2
    cfg.data_preprocessor.num_classes = 2
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type in ('PreciseBNStatsHook', )] + [
        dict(type='LRFinderHook', num_steps=6, plot=False),
        dict(type='ChannelsLastHook')]
    seen = []
    find = LRFinderHook.find

    def spy(self, runner):
        model = runner.model
        seen.append(is_cl(next(p for p in model.parameters()
                               if p.dim() == 4)))
        return find(self, runner)

    LRFinderHook.find = spy
    try:
        runner = train(cfg)
    finally:
        LRFinderHook.find = find
    assert seen == [True]
    assert hook_of(runner, LRFinderHook).result is not None
    assert not any(is_cl(p) for p in runner.model.parameters())
    state = load_checkpoint_file(str(tmp_path / 'work' / 'epoch_1.pth'))
    assert not any(is_cl(v) for v in state['state_dict'].values()
                   if isinstance(v, torch.Tensor))
    fresh = MODELS.build(cfg.model)
    fresh.load_state_dict(state['state_dict'])


def test_with_sam_and_ema(tmp_path):
    """configs/paper_mbv3.py (SAM, EMA) for two iterations in NHWC: both
    update the model's own parameters, and the EMA copy swaps in."""
    from conftest import REPO, fast_config, train
    from mmengine.hooks import EMAHook
    import os.path as osp
    cfg = fast_config(osp.join(REPO, 'configs', 'paper_mbv3.py'),
                      work_dir=tmp_path, bundled='lfw_faces', image_size=16)
    cfg.model.head.num_classes = 2
    cfg.data_preprocessor.num_classes = 2
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2,
                         val_interval=1000)
    cfg.param_scheduler = []
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type == 'EMAHook'] + [
        dict(type='ChannelsLastHook')]
    runner = train(cfg)
    ema = next(h for h in runner.hooks if isinstance(h, EMAHook))
    averaged = dict(ema.ema_model.module.named_parameters())
    for name, p in runner.model.named_parameters():
        assert torch.isfinite(p).all()
        assert not is_cl(p)
        assert torch.isfinite(averaged[name]).all()
