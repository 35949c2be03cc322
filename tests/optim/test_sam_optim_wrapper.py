import pytest
import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from torch import nn

from conftest import hook_of
from mmtricks.engine import build_runner, build_runner_ready_to_train
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


def cpu_amp_wrapper(monkeypatch, model, rho=RHO, **kwargs):
    # AmpOptimWrapper refuses to build without a GPU; on CPU its GradScaler
    # is a no-op and MMEngine's autocast is CPU autocast, which is enough to
    # check the wiring of the second pass.
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    with pytest.warns(UserWarning):  # GradScaler disabled without CUDA
        return SAMAmpOptimWrapper(
            torch.optim.SGD(model.parameters(), lr=LR), rho=rho,
            dtype='bfloat16', **kwargs)


# The AMP references compute every gradient as the wrapper must: the same
# forward under CPU bf16 autocast, the loss times its accumulation factor.
# Compared with fp32 SAM, bf16 rounds the matmul by up to ~4e-3 here, as
# much as the gap between two variants of SAM; compared with a bf16
# reference, correct SAM matches to fp32 rounding (seen: <= 6e-8), so the
# tolerance below separates it from every wrong variant by >= 1000x.
AMP_ATOL = 1e-5


def bf16_grad(w, x, y, loss_factor=1.0):
    w = w.clone().requires_grad_(True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = ((x @ w - y) ** 2).mean()
    (loss * loss_factor).backward()
    return w.grad


def sam_ascent(g, rho):
    return rho * g / g.norm()


def assert_amp_step(got, expected, wrong_variants):
    torch.testing.assert_close(got, expected, atol=AMP_ATOL, rtol=0)
    for name, wrong in wrong_variants.items():
        gap = (wrong - expected).abs().max()
        assert gap > 100 * AMP_ATOL, f'the test cannot tell SAM from {name}'
        assert not torch.allclose(got, wrong, atol=AMP_ATOL, rtol=0), name


def test_amp_variant_runs_both_passes_under_autocast(monkeypatch):
    model = Quadratic()
    wrapper = cpu_amp_wrapper(monkeypatch, model)
    model.train_step(dict(inputs=X, targets=Y), optim_wrapper=wrapper)
    assert model.autocast_seen == [True, True]
    g1 = bf16_grad(W0, X, Y)
    g2 = bf16_grad(W0 + sam_ascent(g1, RHO), X, Y)
    fp32_g2 = quadratic_grad(W0 + sam_ascent(quadratic_grad(W0), RHO))
    assert_amp_step(model.w.detach(), W0 - LR * g2, {
        'plain SGD': W0 - LR * g1,
        # a second pass outside autocast
        'an fp32 second pass': W0 - LR * quadratic_grad(
            W0 + sam_ascent(g1, RHO)),
    })
    # and the bf16 reference is SAM: within bf16's rounding of fp32 SAM
    torch.testing.assert_close(W0 - LR * g2, W0 - LR * fp32_g2,
                               atol=1e-2, rtol=0)


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


# gradient accumulation ------------------------------------------------------

def sam_reference_step(w, x, y, momentum_buffer=None, momentum=0.0,
                       adaptive=False):
    """One SAM step of SGD(lr=LR, momentum) on the batch ``(x, y)``."""
    def grad(at):
        at = at.clone().requires_grad_(True)
        ((x @ at - y) ** 2).mean().backward()
        return at.grad
    g1 = grad(w)
    if adaptive:
        e = RHO * w.abs() ** 2 * g1 / (w.abs() * g1).norm()
    else:
        e = RHO * g1 / g1.norm()
    g2 = grad(w + e)
    if momentum_buffer is None:
        momentum_buffer = g2
    else:
        momentum_buffer = momentum * momentum_buffer + g2
    return w - LR * momentum_buffer, momentum_buffer


def counting_steps(wrapper):
    steps = []
    step = wrapper.optimizer.step

    def counted(*args, **kwargs):
        steps.append(1)
        return step(*args, **kwargs)

    wrapper.optimizer.step = counted
    return steps


@pytest.mark.parametrize('adaptive', [False, True])
def test_accumulation_is_sam_on_the_concatenated_batch(adaptive):
    # two windows of two micro-batches, SGD with momentum: each step equals
    # the SAM step on the window's four rows, so e(w) is computed once per
    # window from the mean gradient and every micro-batch is replayed there
    model = Quadratic()
    wrapper = SAMOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9), rho=RHO,
        adaptive=adaptive, accumulative_counts=2)
    steps = counting_steps(wrapper)
    x2, y2 = X.flip(0) * 0.5, Y.flip(0) + 1.0
    windows = [(X, Y), (x2, y2)]
    expected, buffer = W0.clone(), None
    for x, y in windows:
        for half in (slice(0, 2), slice(2, 4)):
            model.train_step(dict(inputs=x[half], targets=y[half]),
                             optim_wrapper=wrapper)
        expected, buffer = sam_reference_step(expected, x, y, buffer, 0.9,
                                              adaptive)
        torch.testing.assert_close(model.w.detach(), expected)
    assert len(steps) == 2
    assert len(model.autocast_seen) == 8  # 2 forwards per micro-batch
    # and not the per-micro-batch variant (one e per micro-batch)
    halves = (slice(0, 2), slice(2, 4))
    per_micro_grad = sum(
        quadratic_grad_on(W0 + RHO * g / g.norm(), X[h], Y[h])
        for h, g in ((h, quadratic_grad_on(W0, X[h], Y[h])) for h in halves))
    assert not torch.allclose(W0 - LR * per_micro_grad / 2,
                              sam_reference_step(W0, X, Y)[0])


def quadratic_grad_on(w, x, y):
    w = w.clone().requires_grad_(True)
    ((x @ w - y) ** 2).mean().backward()
    return w.grad


def test_the_last_short_window_is_sam_on_its_own_micro_batches():
    # 3 micro-steps in all with accumulative_counts=2 (MMEngine's
    # _remainder_counts = 1): the 2nd step is SAM on the 3rd micro-batch
    # alone, with loss factor 1 in both passes
    model = Quadratic()
    wrapper = SAMOptimWrapper(torch.optim.SGD(model.parameters(), lr=LR),
                              rho=RHO, accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 3)
    steps = counting_steps(wrapper)
    x3, y3 = X[:2] * 2.0, Y[:2] - 1.0
    for x, y in ((X[:2], Y[:2]), (X[2:], Y[2:]), (x3, y3)):
        model.train_step(dict(inputs=x, targets=y), optim_wrapper=wrapper)
    expected = sam_reference_step(W0, X, Y)[0]
    expected = sam_reference_step(expected, x3, y3)[0]
    torch.testing.assert_close(model.w.detach(), expected)
    assert len(steps) == 2
    assert wrapper._inner_count == 3


def test_accumulation_updates_bn_statistics_once_per_micro_batch():
    model = Quadratic(bn=True)
    wrapper = SAMOptimWrapper(torch.optim.SGD(model.parameters(), lr=LR),
                              rho=RHO, accumulative_counts=2)
    reference = nn.BatchNorm1d(2).train()
    for half in (slice(0, 2), slice(2, 4)):
        model.train_step(dict(inputs=X[half], targets=Y[half]),
                         optim_wrapper=wrapper)
        reference(X[half])
    torch.testing.assert_close(model.bn.running_mean, reference.running_mean)
    torch.testing.assert_close(model.bn.running_var, reference.running_var)
    assert int(model.bn.num_batches_tracked) == 2
    assert len(model.autocast_seen) == 4


def test_records_of_an_interrupted_window_are_dropped():
    # a window cut short and its counter reset (as the LR finder's snapshot
    # restore does) must not be replayed in the next window
    model = Quadratic()
    wrapper = SAMOptimWrapper(torch.optim.SGD(model.parameters(), lr=LR),
                              rho=RHO, accumulative_counts=2)
    model.train_step(dict(inputs=X[:2] * 3, targets=Y[:2]),
                     optim_wrapper=wrapper)
    wrapper._inner_count = 0
    model.w.grad = None
    for half in (slice(0, 2), slice(2, 4)):
        model.train_step(dict(inputs=X[half], targets=Y[half]),
                         optim_wrapper=wrapper)
    torch.testing.assert_close(model.w.detach(),
                               sam_reference_step(W0, X, Y)[0])


def test_amp_variant_accumulates_under_autocast(monkeypatch):
    # rho 0.5: at 0.05, bf16 rounds w + e(w) of both SAM variants to the
    # same point here and no test could tell them apart
    rho = 0.5
    model = Quadratic()
    wrapper = cpu_amp_wrapper(monkeypatch, model, rho=rho,
                              accumulative_counts=2)
    steps = counting_steps(wrapper)
    halves = (slice(0, 2), slice(2, 4))
    for half in halves:
        model.train_step(dict(inputs=X[half], targets=Y[half]),
                         optim_wrapper=wrapper)
    assert model.autocast_seen == [True] * 4
    assert len(steps) == 1

    def window_grad(at):  # each micro-batch's loss times 1/2, summed
        return sum(bf16_grad(at, X[h], Y[h], 0.5) for h in halves)

    g1 = window_grad(W0)
    expected = W0 - LR * window_grad(W0 + sam_ascent(g1, rho))
    per_micro_batch = W0 - LR * sum(
        bf16_grad(W0 + sam_ascent(bf16_grad(W0, X[h], Y[h]), rho),
                  X[h], Y[h], 0.5) for h in halves)
    assert_amp_step(model.w.detach(), expected, {
        'plain SGD': W0 - LR * g1,
        'per-micro-batch SAM': per_micro_batch,
    })


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
    accumulating = build_optim_wrapper(
        model, dict(type='SAMOptimWrapper', optimizer=sgd,
                    accumulative_counts=2))
    assert accumulating._accumulative_counts == 2
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
    cfg = sam_config(make_fast_config)
    iters = 3
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=1000)
    cfg.param_scheduler = []
    runner = build_runner(cfg)
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


def test_runner_accumulates_two_iterations_per_sam_step(make_fast_config):
    cfg = sam_config(make_fast_config)
    cfg.optim_wrapper.accumulative_counts = 2
    iters = 4
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=1000)
    cfg.param_scheduler = []
    runner = build_runner(cfg)
    calls = count_loss_forwards(runner.model)
    wrapper = runner.optim_wrapper = runner.build_optim_wrapper(
        cfg.optim_wrapper)
    steps = counting_steps(wrapper)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    assert runner.optim_wrapper is wrapper
    assert len(steps) == iters // 2
    assert calls.count('loss') == 2 * iters
    after = runner.model.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values()
               if v.is_floating_point())
    assert any(not torch.equal(before[k], after[k]) for k in after
               if k.endswith('weight'))


def test_lr_finder_with_sam_and_accumulation(make_fast_config):
    cfg = sam_config(make_fast_config)
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.custom_hooks.append(dict(type='LRFinderHook', num_steps=6,
                                 start_lr=1e-3, end_lr=0.5))
    runner = build_runner_ready_to_train(cfg)
    wrapper = runner.optim_wrapper
    assert isinstance(wrapper, SAMOptimWrapper)
    steps = counting_steps(wrapper)
    calls = count_loss_forwards(runner.model)
    hook = hook_of(runner, LRFinderHook)
    hook.before_train(runner)
    assert hook.result['fallback_reason'] is None
    assert hook.result['steps'] >= 5
    assert len(steps) == hook.result['steps']  # one step per 2 micro-batches
    assert calls.count('loss') == 2 * 2 * hook.result['steps']
    assert wrapper._inner_count == 0  # restored
