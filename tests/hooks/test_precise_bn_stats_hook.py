import pytest
import torch
from torch import nn

from mmtricks.engine import build_runner
from mmtricks.hooks import recompute_bn_statistics


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.01), nn.ReLU(),
        nn.Dropout(0.5), nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2))


def test_statistics_are_the_mean_of_batch_statistics():
    net = small_net().train()
    batches = [torch.randn(8, 3, 6, 6) * (i + 1) + i for i in range(3)]
    conv = net[0]
    with torch.no_grad():
        outs = [conv(b) for b in batches]
    expected_mean = torch.stack([o.mean((0, 2, 3)) for o in outs]).mean(0)
    expected_var = torch.stack([o.var((0, 2, 3)) for o in outs]).mean(0)

    used = recompute_bn_statistics(net, batches, net)

    assert used == 3
    torch.testing.assert_close(net[1].running_mean, expected_mean)
    torch.testing.assert_close(net[1].running_var, expected_var)


def test_momentum_counters_and_modes_are_restored():
    net = small_net().train()
    net[3].eval()  # a mode the caller chose must survive
    tracked = net[1].num_batches_tracked.clone()
    recompute_bn_statistics(net, [torch.randn(4, 3, 6, 6)], net)
    assert net[1].momentum == 0.01 and net[5].momentum == 0.1
    assert torch.equal(net[1].num_batches_tracked, tracked)
    assert net.training and net[1].training and not net[3].training


def test_dropout_is_off_while_recomputing():
    net = small_net()
    batch = [torch.randn(8, 3, 6, 6)]
    recompute_bn_statistics(net, batch, net)
    first = net[5].running_mean.clone()
    recompute_bn_statistics(net, batch, net)
    # With dropout active the statistics after it would differ between runs.
    torch.testing.assert_close(net[5].running_mean, first)


def test_no_batches_leaves_statistics_untouched():
    net = small_net()
    net[1].running_mean.fill_(3.0)
    assert recompute_bn_statistics(net, [], net) == 0
    assert torch.all(net[1].running_mean == 3.0)


def test_bad_arguments_are_refused():
    from mmtricks.hooks import PreciseBNStatsHook
    with pytest.raises(ValueError, match='positive'):
        PreciseBNStatsHook(num_samples=0)


@pytest.mark.slow
def test_shipped_config_does_not_collapse_in_eval_mode(make_fast_config,
                                                       tmp_path):
    """The measured trap: LR 0.01 with MobileNetV3's BN momentum 0.01.

    Without the hook validation collapses to about one class (10% on the
    10-class digits); with it the model is measured as trained.
    """

    def top1(with_hook, work_dir):
        cfg = make_fast_config(max_epochs=3, work_dir=work_dir)
        cfg.optim_wrapper.optimizer.lr = 0.01
        assert cfg.model.backbone.get('norm_cfg') is None  # stock BN setting
        if not with_hook:
            cfg.custom_hooks = [h for h in cfg.custom_hooks
                                if h.type != 'PreciseBNStatsHook']
        runner = build_runner(cfg)
        runner.train()
        return runner.val_loop.run()['accuracy/top1']

    stock = top1(False, tmp_path / 'stock')
    ours = top1(True, tmp_path / 'ours')
    assert stock < 20.0
    assert ours > 35.0
