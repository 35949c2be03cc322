"""Everything mmtricks changes in other libraries for the whole process.

A Python module is shared by everything in the process, so a fix to one of
MMEngine's functions also reaches a user's MMDetection run that added
``custom_imports=['mmtricks']``. mmtricks keeps such changes to the few
that must be process-wide, and lists every one of them here
(:data:`PROCESS_WIDE`; docs/compat.md shows the same table). Everything else
applies to mmtricks' own runs only: the upstream log lines it hides are
filtered on the loggers of :class:`~mmtricks.engine.DataAwareRunner`, and
``torch.onnx.export``'s TorchScript default holds inside MMDeploy's export
alone. tests/compat/test_process_wide.py diffs upstream's attributes before
and after ``import mmtricks`` (and ``import mmtricks.deploy``) in a fresh
process and fails when the diff is not exactly this list.

Opt-out: ``MMTRICKS_KEEP_UPSTREAM=mmcv_hue,cpu_distributed`` (comma
separated, or ``all``) leaves those fixes unapplied, so that upstream's own
functions stay, with upstream's bugs. Only fixes marked ``opt_out`` can be
named: the checkpoint loaders cannot (they are what keeps every checkpoint
load at ``weights_only=True``), and neither can fixes without which deploying
or a shipped config cannot work at all.
"""
import os
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple

KEEP_UPSTREAM_ENV = 'MMTRICKS_KEEP_UPSTREAM'
IMPORT_MMTRICKS = 'import mmtricks'
IMPORT_DEPLOY = 'import mmtricks.deploy'


@dataclass(frozen=True)
class ProcessWideChange:
    """One change to another library that lasts for the whole process.

    Args:
        fix (str): The module that makes it (``mmtricks.compat.<fix>``,
            ``mmtricks.deploy.<fix>`` or ``mmtricks.<fix>``), also the name
            :data:`KEEP_UPSTREAM_ENV` takes.
        applied_on (str): :data:`IMPORT_MMTRICKS` or :data:`IMPORT_DEPLOY`.
        replaces (tuple[str]): What it replaces or adds, named as a diff of
            upstream after the import names it: attributes by dotted name,
            ``warnings.filters``, and a logger's ``.filters``.
        why (str): Why it has to be process-wide.
        opt_out (bool): Whether :data:`KEEP_UPSTREAM_ENV` may name it.
        registers (str): Entries it adds to an upstream registry (there
            upstream's own mechanism picks them), which no attribute diff
            shows.
    """
    fix: str
    applied_on: str
    replaces: Tuple[str, ...]
    why: str
    opt_out: bool
    registers: str = ''


_SCHEMES = "mmengine.runner.checkpoint.CheckpointLoader._schemes"

PROCESS_WIDE: Tuple[ProcessWideChange, ...] = (
    ProcessWideChange(
        'checkpoint_loading', IMPORT_MMTRICKS,
        (f"{_SCHEMES}['']", f"{_SCHEMES}['file://']",
         f"{_SCHEMES}['http://']", f"{_SCHEMES}['https://']",
         'mmengine.runner.checkpoint.load_from_http',
         'mmengine.logging.history_buffer.HistoryBuffer.__setstate__',
         # torch.serialization.add_safe_globals' allow-list
         'torch._weights_only_unpickler._marked_safe_globals_set'),
        'MMEngine loads every checkpoint of every OpenMMLab codebase in the '
        'process through these; left upstream\'s, a load fails under '
        'torch >= 2.6 or (http(s)://) unpickles with weights_only=False. '
        'The promise that no checkpoint runs code holds only if all are '
        'replaced (docs/security.md)',
        opt_out=False),
    ProcessWideChange(
        'upstream_noise', IMPORT_MMTRICKS,
        ('warnings.filters',
         "logging.getLogger('torch.utils.cpp_extension').filters"),
        'Python\'s warning filters are process-wide by design, and two of '
        'the warnings are emitted while mmtricks itself is imported; each '
        'filter hides one message from one upstream module '
        '(mmtricks/compat/upstream_noise.py lists them). -W or '
        'PYTHONWARNINGS set by the user replace the warning filters',
        opt_out=True),
    ProcessWideChange(
        'pkg_resources_check', IMPORT_MMTRICKS, ('warnings.filters', ),
        'hides setuptools\' "pkg_resources is deprecated", which importing '
        'mim or mmengine prints and which asks nothing of the user '
        '(setuptools<81 is pinned)',
        opt_out=True),
    ProcessWideChange(
        'mmcv_hue', IMPORT_MMTRICKS,
        ('mmcv.adjust_hue', 'mmcv.image.adjust_hue',
         'mmcv.image.photometric.adjust_hue'),
        'MMPretrain\'s ColorJitter calls mmcv.adjust_hue by these names; '
        'under numpy 2 upstream\'s raises OverflowError for a negative hue '
        'shift. The fix computes the same shift modulo 256: every input '
        'upstream handles gives the same image',
        opt_out=True),
    ProcessWideChange(
        'cpu_distributed', IMPORT_MMTRICKS,
        ('mmengine.dist.utils._init_dist_pytorch',
         'mmengine.model.wrappers.distributed.MMDistributedDataParallel'
         '.__init__'),
        'MMEngine\'s --launcher pytorch and its DDP wrapper fail without '
        'CUDA; the fixed ones differ from upstream\'s only there and in '
        'choosing nccl or gloo when the config names no backend',
        opt_out=True),
    ProcessWideChange(
        'recipes', IMPORT_MMTRICKS,
        ('mmengine.config.config.Config._get_cfg_path', ),
        'MMEngine resolves every config\'s _base_ through this class '
        'method; the replacement answers only mmtricks::NAME (the configs '
        'mmtricks ships) and passes every other name to upstream\'s, so '
        'there is nothing to opt out of',
        opt_out=False),
    ProcessWideChange(
        'mmdeploy_openvino', IMPORT_DEPLOY,
        ('mmdeploy.backend.openvino.build_wrapper',
         'mmdeploy.backend.openvino.is_available'),
        'MMDeploy\'s openvino backend shells out to mo and imports IECore, '
        'both gone from every current OpenVINO; MMDeploy finds a backend '
        'through its registries, so the working one has to be registered '
        'there',
        opt_out=False,
        registers='MMDeploy\'s "openvino" BACKEND_MANAGERS and '
                  'BACKEND_WRAPPER entries'),
    ProcessWideChange(
        'mmdeploy_onnx_export', IMPORT_DEPLOY, (),
        'MMDeploy 1.3.1 calls torch.onnx.export without dynamo, which since '
        'torch 2.9 means the dynamo exporter: it needs onnxscript and skips '
        'MMDeploy\'s rewriters. The rewriter is active only inside '
        'MMDeploy\'s own export (its RewriterContext); torch.onnx.export is '
        'torch\'s everywhere else',
        opt_out=False,
        registers='an MMDeploy FUNCTION_REWRITER record for '
                  'torch.onnx.export (default dynamo=False)'),
    ProcessWideChange(
        'upstream_noise', IMPORT_DEPLOY,
        ("MMLogger.get_instance('mmdeploy').filters", ),
        'MMDeploy logs through this one MMLogger instance; the filter hides '
        'the listed MMDeploy messages (and lowers them to DEBUG: '
        'log_level DEBUG shows them)',
        opt_out=True),
)

#: What :data:`KEEP_UPSTREAM_ENV` may name.
OPT_OUTS: FrozenSet[str] = frozenset(
    change.fix for change in PROCESS_WIDE if change.opt_out)


def kept_upstream(value: Optional[str] = None) -> FrozenSet[str]:
    """The fixes :data:`KEEP_UPSTREAM_ENV` asks to leave unapplied.

    Args:
        value (str, optional): The variable's value; default: the
            environment's.

    Raises:
        ValueError: A name that is no fix, or a fix that cannot be left
            out.
    """
    if value is None:
        value = os.environ.get(KEEP_UPSTREAM_ENV, '')
    names = {name.strip() for name in value.split(',') if name.strip()}
    if 'all' in names:
        names = (names - {'all'}) | OPT_OUTS
    refused = sorted(names - OPT_OUTS)
    if refused:
        known = {change.fix for change in PROCESS_WIDE}
        why = ', '.join(
            f'{name} (always applied: see mmtricks.compat.process_wide)'
            if name in known else f'{name} (no such fix)'
            for name in refused)
        raise ValueError(
            f'{KEEP_UPSTREAM_ENV}={value}: cannot keep upstream\'s for '
            f'{why}; it takes a comma-separated list of '
            f'{", ".join(sorted(OPT_OUTS))}, or all.')
    return frozenset(names)
