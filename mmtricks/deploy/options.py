"""How a deployment runs: :class:`DeployOptions`, the candidates it makes,
and the command line built from it (each default is written once, here).
"""
import argparse
from dataclasses import dataclass, field, fields
from typing import Dict, Iterable, List, Optional, Tuple

from .inputs import DeployInputError
from .precision import PRECISIONS, bf16_supported
from .samples import REPORT_SPLITS


def _option(default, help: str, **argparse_kwargs):
    """A field of :class:`DeployOptions` with its command-line help."""
    return field(default=default, metadata=dict(help=help, **argparse_kwargs))


@dataclass
class DeployOptions:
    """How ``tools/deploy.py`` deploys. Each field is a command-line option
    (``--accuracy-tolerance`` for ``accuracy_tolerance``; a field that
    defaults to True is turned off by ``--no-NAME``, one that defaults to
    False turned on by ``--NAME``): see
    :func:`add_deploy_arguments`."""

    precision: str = _option(
        'auto', 'auto: ship the fastest candidate shown within '
        '--accuracy-tolerance; or force one (still checked; a warning when '
        'it is not shown within the tolerance)',
        choices=('auto', ) + PRECISIONS)
    accuracy_tolerance: float = _option(
        1.0, 'points of top-1 a candidate may lose against PyTorch on '
        'unseen images, at --confidence (an upper bound, not a point '
        'estimate)')
    confidence: float = _option(
        0.95, 'one-sided confidence of that bound')
    min_speedup: float = _option(
        1.0, 'speed-up over FP32 (median rounds) a candidate must also '
        'reach; 1: being faster beyond the spread of the timing rounds '
        'decides')
    label_free_images: int = _option(
        0, 'training images calibration did not see that also judge a '
        'candidate by its disagreements with PyTorch (no labels); 0: none '
        '(training images are easier than unseen ones: see docs/deploy.md)')
    int8: bool = _option(True, 'skip the INT8 candidate (NNCF)')
    accuracy_control: bool = _option(
        True, 'do not retry INT8 with NNCF accuracy control when plain '
        'quantization breaks the tolerance (accuracy control takes minutes '
        'per model on a small CPU)')
    accuracy_control_iterations: int = _option(
        10, 'most groups of layers accuracy control may put back to '
        'floating point; each round re-validates (and may re-rank every '
        'group left), so this bounds its time')
    report_split: str = _option(
        'auto', 'split whose accuracy is reported (the choice is always '
        'made on val: its even-position images tune, its odd ones judge); '
        'auto: test when the config has a test split distinct from val',
        choices=REPORT_SPLITS)
    device: str = _option(
        'cpu', 'device of the PyTorch side (OpenVINO: CPU)')
    parity_images: int = _option(
        2000, 'validation (and test) images checked against PyTorch')
    calibration_images: int = _option(
        300, 'training images for INT8 calibration')
    benchmark_seconds: float = _option(
        3.0, 'time per timed model and mode, split into 5 interleaved '
        'rounds; 0 skips timing (then FP32 is kept: nothing is known to be '
        'faster)')
    max_top1_drop: float = _option(
        0.5, 'FP32 IR check: points of top-1 it may lose')
    max_disagreement: float = _option(
        0.5, 'FP32 IR check: per cent of images with another top-1 class')
    max_score_diff: float = _option(
        1e-3, 'FP32 IR check: largest softmax difference')
    explain: bool = _option(
        False, 'give every IR a second output, saliency: Recipro-CAM maps '
        '(N, classes, H, W) in [0, 1], checked against PyTorch '
        '(docs/deploy.md); off: the IR is the plain one, at no extra cost')
    max_saliency_diff: float = _option(
        0.02, 'FP32 IR check with --explain: largest difference of the '
        'predicted class\'s normalised saliency map')

    def tolerances(self) -> Dict[str, float]:
        """The FP32 IR's parity tolerances (a conversion check)."""
        return dict(max_top1_drop=self.max_top1_drop,
                    max_disagreement=self.max_disagreement,
                    max_score_diff=self.max_score_diff)


def _flag(name: str) -> str:
    return '--' + name.replace('_', '-')


def add_deploy_arguments(parser: argparse.ArgumentParser,
                         names: Optional[Iterable[str]] = None) -> None:
    """Add :class:`DeployOptions`' fields (all, or those in ``names``) to
    ``parser``: ``--NAME`` with the field's default and type, ``--no-NAME``
    for a field that defaults to True."""
    wanted = None if names is None else set(names)
    known = {f.name for f in fields(DeployOptions)}
    if wanted is not None and not wanted <= known:
        raise ValueError(f'Not DeployOptions fields: {sorted(wanted - known)}')
    for option in fields(DeployOptions):
        if wanted is not None and option.name not in wanted:
            continue
        default = option.default
        extra = dict(option.metadata)
        help_text = extra.pop('help')
        if default is True:
            parser.add_argument('--no-' + _flag(option.name)[2:],
                                dest=option.name, action='store_false',
                                help=help_text)
            continue
        if default is False:  # an opt-in switch: --NAME turns it on
            parser.add_argument(_flag(option.name), dest=option.name,
                                action='store_true', help=help_text)
            continue
        parser.add_argument(_flag(option.name), dest=option.name,
                            type=type(default), default=default,
                            help=f'{help_text} (default: %(default)s)',
                            **extra)


def options_from_args(args: argparse.Namespace) -> DeployOptions:
    """The :class:`DeployOptions` that :func:`add_deploy_arguments`' options
    in ``args`` say (fields not on the command line keep their default)."""
    return DeployOptions(**{f.name: getattr(args, f.name)
                            for f in fields(DeployOptions)
                            if hasattr(args, f.name)})


def available_candidates(options: DeployOptions, core) -> Tuple[List[str],
                                                                Dict]:
    """The precisions to check and, for each left out, why; bad requests
    (a forced precision that cannot be checked) are refused up front."""
    if options.precision not in ('auto', ) + PRECISIONS:
        raise DeployInputError(
            f'--precision must be one of auto, {", ".join(PRECISIONS)}; got '
            f'{options.precision!r}.')
    if options.accuracy_tolerance <= 0:
        raise DeployInputError(
            '--accuracy-tolerance must be > 0 points: no number of images '
            'shows that a candidate loses nothing at all.')
    if not 0.5 <= options.confidence < 1:
        raise DeployInputError(
            f'--confidence must be in [0.5, 1), got {options.confidence} '
            '(0.95: the drop bound holds 95% of the time).')
    if options.label_free_images < 0:
        raise DeployInputError('--label-free-images must be >= 0.')
    if options.accuracy_control and options.accuracy_control_iterations < 1:
        raise DeployInputError(
            '--accuracy-control-iterations must be at least 1 (groups of '
            'layers NNCF may revert); pass --no-accuracy-control to skip '
            'accuracy control.')
    if options.min_speedup <= 0:
        raise DeployInputError(
            '--min-speedup must be > 0 (1.05: a candidate must also be 5% '
            'faster than FP32).')
    names, skipped = ['fp32'], {}
    if bf16_supported(core):
        names.append('bf16')
    else:
        skipped['bf16'] = (
            'this CPU has no BF16 (OpenVINO OPTIMIZATION_CAPABILITIES: '
            f'{", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))})')
        if options.precision == 'bf16':
            raise DeployInputError(
                f'--precision bf16: {skipped["bf16"]}, so OpenVINO would run '
                'it at f32. Deploy on a CPU with BF16 (AVX512_BF16 or AMX) or '
                'pass --precision auto.')
    if options.int8:
        names.append('int8')
    else:
        skipped['int8'] = 'not requested (--no-int8)'
        if options.precision == 'int8':
            raise DeployInputError(
                '--precision int8 with --no-int8: drop one of them.')
    return names, skipped
