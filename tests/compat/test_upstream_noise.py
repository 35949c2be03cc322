"""Each upstream-noise entry hides exactly its message from its module."""
import inspect
import logging
import sys
import warnings

import pytest
import torch
from mmengine.logging import MMLogger, print_log
from torch import nn

import mmtricks  # noqa: F401  (applies the compat layer)
from mmtricks.compat import upstream_noise
from mmtricks.compat.upstream_noise import NOISE

# (channel, emitting module, the message as upstream prints it, from the main
# job's output)
SAMPLES = [
    ('warnings', 'mmcv.cnn.bricks.transformer',
     'Fail to import ``MultiScaleDeformableAttention`` from '
     '``mmcv.ops.multi_scale_deform_attn``, You should install ``mmcv`` '
     'rather than ``mmcv-lite`` if you need this module. '),
    ('warnings', 'mmcv.cnn.bricks.hsigmoid',
     'In MMCV v1.4.4, we modified the default value of args to align with '
     'PyTorch official. Previous Implementation: Hsigmoid(x) = '
     'min(max((x + 1) / 2, 0), 1). Current Implementation: Hsigmoid(x) = '
     'min(max((x + 3) / 6, 0), 1).'),
    ('warnings', 'torch.utils.data.dataloader',
     "'pin_memory' argument is set as true but no accelerator is found, then "
     "device pinned memory won't be used."),
    ('mmengine', 'mmengine.optim.optimizer.default_constructor',
     'paramwise_options -- backbone.layer0.bn.weight:weight_decay=0.0'),
    ('mmengine', 'mmengine.fileio.file_client',
     '"FileClient" will be deprecated in future. Please use io functions in '
     'https://mmengine.readthedocs.io/en/latest/api/fileio.html#file-io'),
    ('mmengine', 'mmengine.fileio.file_client',
     '"HardDiskBackend" is the alias of "LocalBackend" and the former will '
     'be deprecated in future.'),
    ('mmengine', 'mmengine.registry.registry',
     'Failed to search registry with scope "mmpretrain" in the "Codebases" '
     'registry tree. As a workaround, the current "Codebases" registry in '
     '"mmdeploy" is used to build instance. This may cause unexpected '
     'failure when running the built modules. Please check whether '
     '"mmpretrain" is a correct scope, or whether the registry is '
     'initialized.'),
    ('mmengine', 'mmdeploy.core.rewriters.function_rewriter',
     'Can not find mmcv.ops.point_sample, function rewrite will not be '
     'applied'),
    ('mmengine', 'mmdeploy.core.rewriters.symbolic_rewriter',
     'Can not add symbolic for '
     '`mmcv.ops.modulated_deform_conv.ModulatedDeformConv2dFunction`'),
    ('mmengine', 'mmdeploy.utils.utils',
     'DeprecationWarning: get_onnx_config will be deprecated in the future. '),
    ('mmengine', 'mmdeploy.backend.base.backend_manager',
     'Backend manager of `openvino` has already been registered.'),
    ('torch.utils.cpp_extension', 'torch.utils.cpp_extension',
     "No CUDA runtime is found, using CUDA_HOME='/usr/local'"),
    ('mmengine', 'mmengine.hooks.checkpoint_hook',
     'The previous best checkpoint /w/best_accuracy_top1_epoch_1.pth is '
     'removed'),
]
OURS = 'mmtricks.hooks.auto_epochs_hook'


def run_as(module, code, **names):
    """Run ``code`` in a frame whose module is ``module`` (what warnings and
    the emitting-module lookup see)."""
    exec(code, {'__name__': module, **names})


# ---- Python warnings --------------------------------------------------------

def warnings_seen(emit):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        upstream_noise.install_warning_filters()
        emit()
    return [str(w.message) for w in seen]


def warn_from(module, text):
    return warnings_seen(lambda: run_as(
        module, 'warnings.warn(text, UserWarning)', warnings=warnings,
        text=text))


# ---- logging ---------------------------------------------------------------

class Collect(logging.Handler):

    def __init__(self, level=logging.INFO):
        super().__init__(level)
        self.records = []

    def emit(self, record):
        self.records.append(record)


_loggers = iter(range(10 ** 6))


def mmlogger(handler, ours=True):
    """A fresh MMLogger (now the 'current' one) writing only to ``handler``,
    with the filter a run of ours puts on its logger unless ``ours`` is
    False."""
    logger = MMLogger.get_instance(f'test_upstream_noise_{next(_loggers)}')
    logger.handlers = [handler]
    return upstream_noise.hide_upstream_noise(logger) if ours else logger


def log_from(module, channel, text, level=logging.WARNING,
             handler_level=logging.INFO, ours=True):
    collect = Collect(handler_level)
    if channel == 'mmengine':
        logger = mmlogger(collect, ours)
        # MMEngine's messages go through print_log, MMDeploy's directly
        code = ('logger.log(level, text)' if module.startswith('mmdeploy')
                else 'print_log(text, logger="current", level=level)')
    else:
        logger = logging.getLogger(channel)
        logger.addHandler(collect)
        code = 'logger.log(level, text)'
    try:
        run_as(module, code, logger=logger, print_log=print_log, level=level,
               text=text)
    finally:
        if channel != 'mmengine':
            logger.removeHandler(collect)
    return collect.records


def seen_from(channel, module, text):
    if channel == 'warnings':
        return warn_from(module, text)
    return [r.getMessage() for r in log_from(module, channel, text)]


def test_every_entry_has_a_sample_here():
    covered = {upstream_noise.find_noise(*sample) for sample in SAMPLES}
    assert covered == set(NOISE)
    assert all(n.why and not n.module.startswith('mmtricks') for n in NOISE)


@pytest.mark.parametrize('channel,module,text', SAMPLES,
                         ids=[s[1] + ':' + s[2][:20] for s in SAMPLES])
def test_hidden_from_its_module_kept_from_another(channel, module, text):
    assert seen_from(channel, module, text) == []
    # the same text from another module of the same package is kept
    sibling = module.rsplit('.', 1)[0] + '.other_module'
    assert seen_from(channel, sibling, text) == [text]
    # and another message of the same module
    assert seen_from(channel, module, 'Something else ' + text) == \
        ['Something else ' + text]


@pytest.mark.parametrize('channel,module,text', SAMPLES,
                         ids=[s[1] + ':' + s[2][:20] for s in SAMPLES])
def test_ours_are_never_hidden(channel, module, text):
    # every hidden text, sent by mmtricks through every channel, is kept
    for our_channel in ('warnings', 'mmengine', 'mmtricks'):
        assert seen_from(our_channel, OURS, text) == [text], our_channel


def test_registry_fallback_is_hidden_only_for_mmdeploys_own_registries():
    def fallback(scope, registry, used):
        return (f'Failed to search registry with scope "{scope}" in the '
                f'"{registry}" registry tree. As a workaround, the current '
                f'"{registry}" registry in "{used}" is used to build '
                'instance.')
    module = 'mmengine.registry.registry'
    for registry in ('Codebases', 'mmpretrain_tasks', 'backend_classifiers'):
        assert seen_from('mmengine', module,
                         fallback('mmpretrain', registry, 'mmdeploy')) == []
    for kept in (fallback('mmpretrain', 'model', 'mmengine'),
                 fallback('mmdet', 'Codebases', 'mmdeploy'),
                 fallback('mmpretrain', 'Codebases', 'mmengine')):
        assert seen_from('mmengine', module, kept) == [kept]


@pytest.mark.parametrize('channel,module,text',
                         [s for s in SAMPLES if s[0] == 'mmengine'],
                         ids=[s[1] + ':' + s[2][:20] for s in SAMPLES
                              if s[0] == 'mmengine'])
def test_an_mmlogger_not_of_our_runs_shows_everything(channel, module, text):
    # a user's MMDetection run in a process that imported mmtricks (and
    # mmtricks.deploy): its logger is MMEngine's, unfiltered
    import mmtricks.deploy  # noqa: F401
    assert MMLogger.filter is logging.Filterer.filter
    assert [r.getMessage() for r in log_from(module, channel, text,
                                             ours=False)] == [text]


def test_mmdeploys_logger_hides_its_noise(monkeypatch):
    import mmtricks.deploy  # noqa: F401
    from mmdeploy.utils import get_root_logger
    collect = Collect()
    logger = get_root_logger()
    monkeypatch.setattr(logger, 'handlers', [collect])
    channel, module, text = SAMPLES[9]  # get_onnx_config
    run_as(module, 'get_root_logger().warning(text)',
           get_root_logger=get_root_logger, text=text)
    run_as(module, 'get_root_logger().warning("Something else")',
           get_root_logger=get_root_logger)
    assert [r.getMessage() for r in collect.records] == ['Something else']


def test_hide_upstream_noise_is_idempotent():
    logger = mmlogger(Collect())
    upstream_noise.hide_upstream_noise(logger)
    assert len(logger.filters) == 1


def test_mmlogger_noise_is_lowered_to_debug_not_lost():
    channel, module, text = SAMPLES[3]  # paramwise_options, INFO upstream
    records = log_from(module, channel, text, level=logging.INFO,
                       handler_level=logging.DEBUG)
    assert [(r.getMessage(), r.levelname) for r in records] == \
        [(text, 'DEBUG')]


def test_user_warning_options_win(monkeypatch):
    monkeypatch.setattr(sys, 'warnoptions', ['default'])
    with warnings.catch_warnings():
        before = list(warnings.filters)
        upstream_noise.apply()
        assert warnings.filters == before
    monkeypatch.setattr(sys, 'warnoptions', [])
    with warnings.catch_warnings():
        upstream_noise.apply()
        upstream_noise.apply()
        added = [f for f in warnings.filters if f not in before]
        assert len(added) == sum(n.channel == 'warnings' for n in NOISE)


# ---- the real upstream emitters, so that the samples stay true -------------

def test_real_hsigmoid_notice_is_hidden():
    from mmcv.cnn.bricks.hsigmoid import HSigmoid
    assert warnings_seen(HSigmoid) == []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        HSigmoid()
    assert [str(w.message) for w in seen] == [SAMPLES[1][2]]


@pytest.mark.skipif(torch.accelerator.is_available(),
                    reason='the warning is emitted without an accelerator')
def test_real_pin_memory_warning_is_hidden():
    def load():
        next(iter(torch.utils.data.DataLoader([0, 1], pin_memory=True)))
    assert warnings_seen(load) == []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        load()
    assert [str(w.message) for w in seen] == [SAMPLES[2][2]]


def test_real_file_client_and_paramwise_lines_are_hidden():
    from mmengine.fileio import FileClient
    from mmengine.fileio.file_client import HardDiskBackend
    from mmengine.optim import DefaultOptimWrapperConstructor
    collect = Collect(logging.DEBUG)
    mmlogger(collect)
    FileClient(backend='disk')
    HardDiskBackend()  # FileClient caches its backend: build one here
    DefaultOptimWrapperConstructor(
        dict(type='OptimWrapper',
             optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4)),
        dict(norm_decay_mult=0.0))(nn.Sequential(nn.Linear(2, 2),
                                                 nn.BatchNorm1d(2)))
    messages = [(r.levelname, r.getMessage()) for r in collect.records]
    assert ('DEBUG', SAMPLES[4][2]) in messages
    assert ('DEBUG', SAMPLES[5][2]) in messages
    paramwise = [m for m in messages if m[1].startswith('paramwise_options')]
    assert paramwise and all(level == 'DEBUG' for level, _ in paramwise)


def test_emitting_module_skips_the_logging_machinery():
    found = []

    class Spy(logging.Filter):
        def filter(self, record):
            # as the noise filter does, from the frame that called filter()
            found.append(upstream_noise.emitting_module(
                inspect.currentframe().f_back))
            return True

    logger = mmlogger(Collect())
    logger.addFilter(Spy())
    run_as('some.package.module', 'print_log("x", logger=logger)',
           print_log=print_log, logger=logger)
    assert found == ['some.package.module']
