"""Turn an MMPretrain checkpoint into a verified, timed OpenVINO model.

    python tools/deploy.py configs/auto_mbv3.py \
        work_dirs/auto_mbv3/best_auto_epochs.pth --work-dir work_dirs/deploy

writes ``end2end.onnx`` (MMDeploy export), ``end2end.xml/.bin`` (FP32 IR with
class names and preprocessing in its runtime info), with ``--int8`` also
``end2end_int8.xml/.bin`` (NNCF), and ``deploy_report.json/.md``: parity with
PyTorch on the validation set and CPU latency/throughput. Exits non-zero when
the FP32 IR does not match PyTorch.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_DEPLOY_CFG = osp.join(REPO, 'configs', 'deploy',
                              'classification_openvino_static.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the model (training) config')
    parser.add_argument('checkpoint', help='the trained .pth')
    parser.add_argument('--work-dir', required=True,
                        help='where the ONNX, IR and report go')
    parser.add_argument('--deploy-cfg', default=DEFAULT_DEPLOY_CFG,
                        help='MMDeploy deploy config (default: static shape)')
    parser.add_argument('--int8', action='store_true',
                        help='also quantize to INT8 with NNCF')
    parser.add_argument('--device', default='cpu',
                        help='device of the PyTorch side (OpenVINO: CPU)')
    parser.add_argument('--parity-images', type=int, default=2000)
    parser.add_argument('--calibration-images', type=int, default=300)
    parser.add_argument('--benchmark-seconds', type=float, default=2.0,
                        help='time per timed model and mode; 0 skips timing')
    parser.add_argument('--max-top1-drop', type=float, default=0.5)
    parser.add_argument('--max-disagreement', type=float, default=0.5,
                        help='per cent of images with another top-1 class')
    parser.add_argument('--max-score-diff', type=float, default=1e-3)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override model config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmtricks.deploy import (DeployInputError, DeployOptions,
                                 ParityError, deploy_checkpoint)
    options = DeployOptions(
        int8=args.int8, device=args.device,
        parity_images=args.parity_images,
        calibration_images=args.calibration_images,
        benchmark_seconds=args.benchmark_seconds,
        max_top1_drop=args.max_top1_drop,
        max_disagreement=args.max_disagreement,
        max_score_diff=args.max_score_diff)
    try:
        report = deploy_checkpoint(args.config, args.checkpoint,
                                   args.work_dir, args.deploy_cfg, options,
                                   cfg_options=args.cfg_options)
    except (DeployInputError, ParityError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    with open(osp.join(args.work_dir, 'deploy_report.md')) as f:
        print(f.read())
    return 0 if report else 1


if __name__ == '__main__':
    sys.exit(main())
