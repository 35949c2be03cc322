import pytest
import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from torch import nn

from conftest import hook_of
from mmtricks.engine import build_runner_ready_to_train
from mmtricks.hooks import LRFinderHook
from mmtricks.optim import (SAMAmpOptimWrapper, SAMOptimWrapper,
                            sam_perturbations)

W0 = torch.tensor([0.5, -1.0])
X = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 1.0]])
Y = torch.tensor([1.0, -2.0, 0.0, 3.0])
LR, RHO = 0.1, 0.05


class Quadratic(BaseModel):
    """loss(w) = mean((BN?(x) @ w - y)^2); counts its loss forwards."""

    def __init__(self, bn=False):
        super().__init__()
        self.w = nn.Parameter(W0.clone())
        self.bn = nn.BatchNorm1d(2) if bn else None
        self.autocast_seen = []

    def forward(self, inputs, targets, mode='loss'):
        self.autocast_seen.append(torch.is_autocast_enabled('cpu'))
        x = self.bn(inputs) if self.bn is not None else inputs
        return dict(loss=((x @ self.w - targets) ** 2).mean())


def quadratic_grad(w):
    w = w.clone().requires_grad_(True)
    ((X @ w - Y) ** 2).mean().backward()
    return w.grad


def sam_step(model, **wrapper_args):
    wrapper = SAMOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=LR), **wrapper_args)
    model.train_step(dict(inputs=X, targets=Y), optim_wrapper=wrapper)
    return wrapper


@pytest.mark.parametrize('adaptive', [False, True])
def test_step_is_sgd_on_the_gradient_at_the_perturbed_point(adaptive):
    g1 = quadratic_grad(W0)
    if adaptive:  # ASAM: e = rho T^2 g / ||T g||, T = |w|
        e = RHO * W0.abs() ** 2 * g1 / (W0.abs() * g1).norm()
    else:  # SAM: e = rho g / ||g||
        e = RHO * g1 / g1.norm()
    g2 = quadratic_grad(W0 + e)
    model = Quadratic()
    sam_step(model, rho=RHO, adaptive=adaptive)
    torch.testing.assert_close(model.w.detach(), W0 - LR * g2)
    # and not plain SGD
    assert not torch.allclose(model.w.detach(), W0 - LR * g1)
    assert len(model.autocast_seen) == 2


def test_perturbation_ignores_the_gradient_scale():
    w, g = [W0.clone()], [torch.tensor([3.0, 4.0])]
    for adaptive in (False, True):
        e1 = sam_perturbations(w, g, RHO, adaptive)[0]
        e2 = sam_perturbations(w, [g[0] * 1024], RHO, adaptive)[0]
        torch.testing.assert_close(e1, e2)
    torch.testing.assert_close(sam_perturbations(w, g, RHO)[0],
                               torch.tensor([0.6, 0.8]) * RHO)


def test_clip_grad_applies_to_the_second_gradient():
    g1 = quadratic_grad(W0)
    g2 = quadratic_grad(W0 + RHO * g1 / g1.norm())
    max_norm = 0.01
    assert g2.norm() > 10 * max_norm
    model = Quadratic()
    sam_step(model, rho=RHO, clip_grad=dict(max_norm=max_norm))
    expected = W0 - LR * g2 * max_norm / (g2.norm() + 1e-6)
    torch.testing.assert_close(model.w.detach(), expected)


def test_bn_running_statistics_are_updated_once_per_step():
    model = Quadratic(bn=True)
    sam_step(model, rho=RHO)
    reference = nn.BatchNorm1d(2).train()
    reference(X)
    torch.testing.assert_close(model.bn.running_mean, reference.running_mean)
    torch.testing.assert_close(model.bn.running_var, reference.running_var)
    assert int(model.bn.num_batches_tracked) == 1
    assert model.bn.track_running_stats  # switched back on
    assert len(model.autocast_seen) == 2


def test_amp_variant_runs_both_passes_under_autocast(monkeypatch):
    # AmpOptimWrapper refuses to build without a GPU; on CPU its GradScaler
    # is a no-op and MMEngine's autocast is CPU autocast, which is enough to
    # check the wiring of the second pass.
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    model = Quadratic()
    with pytest.warns(UserWarning):  # GradScaler disabled without CUDA
        wrapper = SAMAmpOptimWrapper(
            torch.optim.SGD(model.parameters(), lr=LR), rho=RHO,
            dtype='bfloat16')
    model.train_step(dict(inputs=X, targets=Y), optim_wrapper=wrapper)
    assert model.autocast_seen == [True, True]
    g1 = quadratic_grad(W0)
    g2 = quadratic_grad(W0 + RHO * g1 / g1.norm())
    torch.testing.assert_close(model.w.detach(), W0 - LR * g2,
                               atol=0.05, rtol=0.05)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_amp_on_cuda_matches_fp32_sam():
    model = Quadratic().cuda()
    wrapper = SAMAmpOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=LR), rho=RHO,
        dtype='float16')
    model.train_step(dict(inputs=X.cuda(), targets=Y.cuda()),
                     optim_wrapper=wrapper)
    g1 = quadratic_grad(W0)
    g2 = quadratic_grad(W0 + RHO * g1 / g1.norm())
    torch.testing.assert_close(model.w.detach().cpu(), W0 - LR * g2,
                               atol=1e-2, rtol=1e-2)


def test_update_outside_optim_context_is_a_clear_error():
    model = Quadratic()
    wrapper = SAMOptimWrapper(torch.optim.SGD(model.parameters(), lr=LR))
    with pytest.raises(RuntimeError, match='optim_context'):
        wrapper.update_params(model(X, Y)['loss'])


def build_optim_wrapper(model, cfg):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return build_optim_wrapper(model, cfg)


def test_bad_arguments_are_refused_at_build_time():
    model = Quadratic()
    assert isinstance(build_optim_wrapper(
        model, dict(type='SAMOptimWrapper', optimizer=dict(type='SGD', lr=LR))),
        SAMOptimWrapper)
    sgd = dict(type='SGD', lr=LR)
    for rho in (0, -0.1, None):
        with pytest.raises(ValueError, match='rho > 0'):
            build_optim_wrapper(model, dict(type='SAMOptimWrapper', rho=rho,
                                            optimizer=sgd))
    with pytest.raises(ValueError, match='accumulation'):
        build_optim_wrapper(model, dict(type='SAMOptimWrapper', optimizer=sgd,
                                        accumulative_counts=2))
    plain = OptimWrapper(torch.optim.SGD(model.parameters(), lr=LR))
    with pytest.raises(TypeError, match='torch.optim.Optimizer'):
        SAMOptimWrapper(plain)


def sam_config(make_fast_config):
    cfg = make_fast_config()
    cfg.optim_wrapper.type = 'SAMOptimWrapper'
    cfg.optim_wrapper.rho = 0.05
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type != 'PreciseBNStatsHook']
    return cfg


def count_loss_forwards(model):
    calls = []
    model.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append(kwargs.get('mode')),
        with_kwargs=True)
    return calls


def test_runner_trains_with_two_forwards_per_iteration(make_fast_config):
    from mmengine.runner import Runner
    cfg = sam_config(make_fast_config)
    iters = 3
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=1000)
    cfg.param_scheduler = []
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner.build_optim_wrapper(cfg.optim_wrapper),
                      SAMOptimWrapper)
    calls = count_loss_forwards(runner.model)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    assert calls.count('loss') == 2 * iters
    assert isinstance(runner.optim_wrapper, SAMOptimWrapper)
    after = runner.model.state_dict()
    bn = next(k for k in after if k.endswith('num_batches_tracked'))
    assert int(after[bn]) == iters  # once per iteration, not twice
    assert any(not torch.equal(before[k], after[k]) for k in after
               if k.endswith('weight'))


def test_lr_finder_tests_the_sam_optimizer_with_two_passes_per_step(
        make_fast_config):
    cfg = sam_config(make_fast_config)
    cfg.custom_hooks.append(dict(type='LRFinderHook', num_steps=6,
                                 start_lr=1e-3, end_lr=0.5))
    runner = build_runner_ready_to_train(cfg)
    assert isinstance(runner.optim_wrapper, SAMOptimWrapper)
    calls = count_loss_forwards(runner.model)
    hook = hook_of(runner, LRFinderHook)
    hook.before_train(runner)
    assert hook.result['steps'] >= 5
    assert calls.count('loss') == 2 * hook.result['steps']
