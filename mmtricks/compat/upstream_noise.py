"""Hide upstream warnings and log lines that ask nothing of the user.

The main job (``mim train`` on ``configs/auto_mbv3.py``, then
``tools/deploy.py``) printed dozens of upstream messages that no user can act
on: notices about old API changes, fallbacks that are correct here, one INFO
line per parameter. They hid the messages that do matter. :data:`NOISE` lists
every message hidden, each with the upstream module that emits it and why it
is harmless. A message is hidden only when both its text (a regex matched at
its start) and the module that emits it match one entry: the same text from
any other module (ours included) is kept, and so is every other message of
the same module.

How each channel is handled:

* Python warnings (``channel='warnings'``): ``warnings.filterwarnings('ignore',
  message=..., module=...)``. Not installed when the user chose warning
  filters (``-W`` or ``PYTHONWARNINGS``), so ``-W default`` shows them all.
* MMEngine's ``MMLogger`` (``channel='mmengine'``, the logger name of every
  MMLogger, the one MMEngine, MMPretrain and MMDeploy log through): the record
  is lowered to DEBUG, so the default ``log_level='INFO'`` hides it and
  ``log_level='DEBUG'`` still shows it. Only on the loggers of mmtricks' own
  runs (:func:`hide_upstream_noise`): each
  :class:`~mmtricks.engine.DataAwareRunner`'s (upstream's messages during a
  run go to the current MMLogger, the runner's) and, on ``import
  mmtricks.deploy``, MMDeploy's. Any other MMLogger, a user's MMDetection
  run's for one, shows everything.
* Any other logger (``channel`` = its name): a ``logging.Filter`` on that
  logger drops the record unless the logger is enabled for DEBUG.

The emitting module of a log record is the first frame outside ``logging``
and MMEngine's ``print_log`` (which most upstream messages go through, so
the record's own ``pathname`` would name ``mmengine/logging/logger.py``).

Not reachable from here: ``pkg_resources is deprecated`` (setuptools), which
``mim`` and ``import mmengine`` trigger before any config imports mmtricks.
"""
import inspect
import logging
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

from mmengine.logging import MMLogger


@dataclass(frozen=True)
class UpstreamNoise:
    """One upstream message that says nothing to the user.

    Args:
        channel (str): ``'warnings'`` for a Python warning, else the name of
            the logger it is logged to (``'mmengine'`` for any MMLogger).
        module (str): Dotted name of the upstream module that emits it.
        message (str): Regex matched at the start of the message text.
        why (str): Why it is harmless here.
        category (type): Warning class, for ``channel='warnings'``.
    """
    channel: str
    module: str
    message: str
    why: str
    category: type = UserWarning

    def matches(self, module: str, text: str) -> bool:
        """Whether ``text`` from ``module`` is this message.

        Args:
            module (str): The module that emits it.
            text (str): The message.
        """
        return (module == self.module
                and re.match(self.message, text) is not None)


_MMCV_LITE_OPS = ('mmcv-lite ships no compiled ops (mmcv.ops), so no model '
                  'built with it can contain them; the rewrites and '
                  'symbolics exist for detection/segmentation ops')

NOISE: Tuple[UpstreamNoise, ...] = (
    # ---- Python warnings -------------------------------------------------
    UpstreamNoise(
        'warnings', 'mmcv.cnn.bricks.transformer',
        r'Fail to import ``MultiScaleDeformableAttention`` from '
        r'``mmcv\.ops\.multi_scale_deform_attn``',
        'emitted on import of mmcv.cnn under mmcv-lite; the op is only for '
        'detection transformers, and a config that used it would fail to '
        'build with its own error'),
    UpstreamNoise(
        'warnings', 'mmcv.cnn.bricks.hsigmoid',
        r'In MMCV v1\.4\.4, we modified the default value of args',
        'a notice about a 2022 default change, emitted by every HSigmoid '
        'construction even when the arguments are given (MMPretrain\'s '
        'MobileNetV3 SE layers)'),
    UpstreamNoise(
        'warnings', 'torch.utils.data.dataloader',
        r"'pin_memory' argument is set as true but no accelerator is found",
        'the stock MMPretrain configs set pin_memory=True; without an '
        'accelerator pinning has nothing to speed up, and with one the '
        'warning is not emitted'),
    # ---- MMEngine's MMLogger ---------------------------------------------
    UpstreamNoise(
        'mmengine', 'mmengine.optim.optimizer.default_constructor',
        r'paramwise_options -- ',
        'one INFO line per parameter restating the config\'s paramwise_cfg '
        '(e.g. norm_decay_mult=0); the config already says it'),
    UpstreamNoise(
        'mmengine', 'mmengine.fileio.file_client',
        r'"FileClient" will be deprecated in future\.',
        'MMEngine\'s own CheckpointHook creates a FileClient on every run, '
        'with or without file_client_args; a config that passes '
        'file_client_args to a transform gets mmcv\'s own warning, which is '
        'kept'),
    UpstreamNoise(
        'mmengine', 'mmengine.fileio.file_client',
        r'"HardDiskBackend" is the alias of "LocalBackend"',
        'the default backend of the same FileClient that CheckpointHook '
        'creates'),
    UpstreamNoise(
        'mmengine', 'mmengine.hooks.checkpoint_hook',
        r'The previous best checkpoint .* is removed$',
        'housekeeping at every new best validation: the line after it names '
        'the new best checkpoint; with it an epoch of the main job took 7 '
        'console lines (issue 28: at most 6)'),
    UpstreamNoise(
        'mmengine', 'mmengine.registry.registry',
        r'Failed to search registry with scope "mmpretrain" in the '
        r'"(?P<registry>Codebases|mmpretrain_tasks|backend_classifiers)" '
        r'registry tree\. As a workaround, the current "(?P=registry)" '
        r'registry in "mmdeploy" is used',
        'MMDeploy builds its own codebase, task and backend-model registries '
        'under the model\'s default scope "mmpretrain"; they exist only in '
        'scope "mmdeploy", and the fallback MMEngine takes is that registry. '
        'The same fallback for any other registry or scope is kept'),
    UpstreamNoise(
        'mmengine', 'mmdeploy.core.rewriters.function_rewriter',
        r'Can not find mmcv\.ops\.\S+, function rewrite will not be applied',
        _MMCV_LITE_OPS),
    UpstreamNoise(
        'mmengine', 'mmdeploy.core.rewriters.symbolic_rewriter',
        r'Can not add symbolic for `mmcv\.ops\.',
        _MMCV_LITE_OPS),
    UpstreamNoise(
        'mmengine', 'mmdeploy.utils.utils',
        r'DeprecationWarning: get_onnx_config will be deprecated in the '
        r'future\.',
        'MMDeploy\'s own torch2onnx calls its deprecated helper'),
    UpstreamNoise(
        'mmengine', 'mmdeploy.backend.base.backend_manager',
        r'Backend manager of `openvino` has already been registered\.',
        'mmtricks.deploy.mmdeploy_openvino replaces MMDeploy\'s OpenVINO '
        'backend on purpose (MMDeploy\'s calls tools removed from OpenVINO)'),
    # ---- other loggers ----------------------------------------------------
    UpstreamNoise(
        'torch.utils.cpp_extension', 'torch.utils.cpp_extension',
        r'No CUDA runtime is found',
        'logged when anything imports torch.utils.cpp_extension (NNCF does) '
        'on a machine without CUDA; it matters only for compiling CUDA '
        'extensions, which neither training nor deployment does'),
)

# frames that belong to the logging machinery, not to the emitter
_LOGGING_MODULES = frozenset({'logging', 'mmengine.logging.logger', __name__})


def emitting_module(frame=None) -> str:
    """Dotted name of the module that logs the record being handled.

    Args:
        frame: Where to start walking outwards; defaults to the caller's.
    """
    frame = frame or inspect.currentframe().f_back
    while frame is not None:
        name = frame.f_globals.get('__name__', '')
        if name not in _LOGGING_MODULES and not name.startswith('logging.'):
            return name
        frame = frame.f_back
    return ''


def find_noise(channel: str, module: str,
               text: str) -> Optional[UpstreamNoise]:
    """The :data:`NOISE` entry for this message, or None to keep it.

    Args:
        channel (str): ``'warnings'`` or the logger name.
        module (str): The module that emits it.
        text (str): The message.
    """
    for noise in NOISE:
        if noise.channel == channel and noise.matches(module, text):
            return noise
    return None


class UpstreamLogNoiseFilter(logging.Filter):
    """Lowers (MMLogger) or drops (other loggers) records in :data:`NOISE`.

    Args:
        demote (bool): Lower a matching record to DEBUG and let the handlers
            decide (MMLogger's handlers carry the run's ``log_level``)
            instead of dropping it.
    """

    def __init__(self, demote: bool = False):
        super().__init__()
        self.demote = demote

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to keep ``record`` (lowered to DEBUG if noise).

        Args:
            record (logging.LogRecord): The record being logged.
        """
        if record.levelno < logging.INFO:
            return True
        text = record.getMessage()
        # cheap test first: the frame walk only for a text that matches
        if not any(n.channel == record.name and re.match(n.message, text)
                   for n in NOISE):
            return True
        if find_noise(record.name, emitting_module(), text) is None:
            return True
        if not self.demote:
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        record.levelno, record.levelname = logging.DEBUG, 'DEBUG'
        return True


def hide_upstream_noise(logger: MMLogger) -> MMLogger:
    """Lower :data:`NOISE`'s MMLogger messages to DEBUG on ``logger``, an
    MMLogger of one of mmtricks' runs (idempotent); returns it."""
    if not any(isinstance(f, UpstreamLogNoiseFilter)
               for f in logger.filters):
        logger.addFilter(UpstreamLogNoiseFilter(demote=True))
    return logger


def install_warning_filters() -> None:
    """``warnings.filterwarnings('ignore', ...)`` for each warnings entry.

    Idempotent: ``filterwarnings`` moves an existing identical filter to the
    front instead of adding it twice.
    """
    for noise in NOISE:
        if noise.channel == 'warnings':
            warnings.filterwarnings(
                'ignore', message=noise.message, category=noise.category,
                module=re.escape(noise.module) + r'\Z')


def apply() -> None:
    # a user who set warning filters (-W, PYTHONWARNINGS) gets exactly those
    if not sys.warnoptions:
        install_warning_filters()
    for channel in {n.channel for n in NOISE} - {'warnings', 'mmengine'}:
        logger = logging.getLogger(channel)
        if not any(isinstance(f, UpstreamLogNoiseFilter)
                   for f in logger.filters):
            logger.addFilter(UpstreamLogNoiseFilter())
