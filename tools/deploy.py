"""Turn an MMPretrain checkpoint into a verified, timed OpenVINO model.

    python tools/deploy.py configs/auto_mbv3.py \
        work_dirs/auto_mbv3/best_auto_epochs.pth --work-dir work_dirs/deploy

(``mmtricks::auto_mbv3.py`` names the config the installed package ships.)

writes ``end2end.onnx`` (MMDeploy export) and one IR per precision
candidate, each recording the precision it was checked at and carrying class
names and preprocessing in its runtime info: ``end2end.xml`` (FP32),
``end2end_bf16.xml`` (the same weights run at BF16, only on CPUs with BF16)
and ``end2end_int8.xml`` (NNCF, with accuracy control when plain
quantization loses too much). Each is checked against PyTorch on the
validation set and timed; ``deploy_report.json/.md`` name the recommended
one: the fastest within ``--accuracy-tolerance`` points of PyTorch's top-1,
or the one ``--precision`` forces. Exits non-zero when the FP32 IR does not
match PyTorch.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

# Configs mmtricks ships are named `mmtricks::PATH` (PATH under configs/),
# looked up in the installed package: this script runs from anywhere.
DEFAULT_DEPLOY_CFG = 'mmtricks::deploy/classification_openvino_static.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the model (training) config: a path, '
                        'or a config mmtricks ships, e.g. '
                        'mmtricks::auto_mbv3.py')
    parser.add_argument('checkpoint', help='the trained .pth')
    parser.add_argument('--work-dir', required=True,
                        help='where the ONNX, IR and report go')
    parser.add_argument('--deploy-cfg', default=DEFAULT_DEPLOY_CFG,
                        help='MMDeploy deploy config (default: static shape)')
    parser.add_argument(
        '--precision', default='auto', choices=('auto', 'fp32', 'bf16',
                                                'int8'),
        help='auto: ship the fastest candidate within --accuracy-tolerance; '
        'or force one (still checked; a warning when it breaks the '
        'tolerance)')
    parser.add_argument('--accuracy-tolerance', type=float, default=1.0,
                        help='points of top-1 a candidate may lose against '
                        'PyTorch (default 1)')
    parser.add_argument('--min-speedup', type=float, default=1.05,
                        help='speed-up over FP32 a candidate must reach')
    parser.add_argument('--no-int8', dest='int8', action='store_false',
                        help='skip the INT8 candidate (NNCF)')
    parser.add_argument('--int8', action='store_true', dest='legacy_int8',
                        help='no longer needed: INT8 is a candidate by '
                        'default')
    parser.add_argument('--no-accuracy-control', dest='accuracy_control',
                        action='store_false',
                        help='do not retry INT8 with NNCF accuracy control '
                        'when plain quantization breaks the tolerance')
    parser.add_argument('--accuracy-control-iterations', type=int, default=10,
                        help='most groups of layers accuracy control may put '
                        'back to floating point; each round re-validates, '
                        'so this bounds its time (default 10)')
    parser.add_argument('--report-split', default='auto',
                        choices=('auto', 'val', 'test'),
                        help='split whose accuracy is reported (the choice '
                        'is always made on val); auto: test when the config '
                        'has a test split distinct from val')
    parser.add_argument('--device', default='cpu',
                        help='device of the PyTorch side (OpenVINO: CPU)')
    parser.add_argument('--parity-images', type=int, default=2000)
    parser.add_argument('--calibration-images', type=int, default=300,
                        help='training images for INT8 calibration')
    parser.add_argument('--benchmark-seconds', type=float, default=2.0,
                        help='time per timed model and mode; 0 skips timing '
                        '(then FP32 is kept: nothing is known to be faster)')
    parser.add_argument('--max-top1-drop', type=float, default=0.5,
                        help='FP32 IR check: points of top-1 it may lose')
    parser.add_argument('--max-disagreement', type=float, default=0.5,
                        help='FP32 IR check: per cent of images with '
                        'another top-1 class')
    parser.add_argument('--max-score-diff', type=float, default=1e-3,
                        help='FP32 IR check: largest softmax difference')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override model config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmtricks.deploy import (DeployInputError, DeployOptions,
                                 ParityError, deploy_checkpoint)
    from mmtricks.recipes import resolve_config
    if args.legacy_int8:
        if not args.int8:
            print('ERROR: --int8 and --no-int8 contradict each other.',
                  file=sys.stderr)
            return 2
        print('Note: --int8 is no longer needed; INT8 is a candidate by '
              'default (--no-int8 skips it).')
    options = DeployOptions(
        precision=args.precision, int8=args.int8,
        accuracy_control=args.accuracy_control,
        accuracy_control_iterations=args.accuracy_control_iterations,
        accuracy_tolerance=args.accuracy_tolerance,
        min_speedup=args.min_speedup, report_split=args.report_split,
        device=args.device,
        parity_images=args.parity_images,
        calibration_images=args.calibration_images,
        benchmark_seconds=args.benchmark_seconds,
        max_top1_drop=args.max_top1_drop,
        max_disagreement=args.max_disagreement,
        max_score_diff=args.max_score_diff)
    try:  # mmtricks::NAME -> the config the installed package ships
        config = resolve_config(args.config)
        deploy_cfg = resolve_config(args.deploy_cfg)
    except FileNotFoundError as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    try:
        report = deploy_checkpoint(config, args.checkpoint, args.work_dir,
                                   deploy_cfg, options,
                                   cfg_options=args.cfg_options)
    except (DeployInputError, ParityError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    with open(osp.join(args.work_dir, 'deploy_report.md')) as f:
        print(f.read())
    return 0 if report else 1


if __name__ == '__main__':
    sys.exit(main())
