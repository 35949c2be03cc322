"""Turn an MMPretrain checkpoint into a verified, timed OpenVINO model.

    python tools/deploy.py configs/auto_mbv3.py \
        work_dirs/auto_mbv3/best_auto_epochs.pth --work-dir work_dirs/deploy

(``mmtricks::auto_mbv3.py`` names the config the installed package ships.)

writes ``end2end.onnx`` (MMDeploy export) and one IR per precision
candidate, each recording the precision it was checked at and carrying class
names and preprocessing in its runtime info: ``end2end.xml`` (FP32),
``end2end_bf16.xml`` (the same weights run at BF16, only on CPUs with BF16)
and ``end2end_int8.xml`` (NNCF, with accuracy control when plain
quantization loses too many of val's tuning images). Each is checked
against PyTorch on val images that made no choice about it and timed in
rounds; ``deploy_report.json/.md`` name the recommended one: the fastest
whose 95% upper bound of its top-1 drop is within ``--accuracy-tolerance``
points and that is faster than FP32 beyond the rounds' spread, or the one
``--precision`` forces (docs/deploy.md: the rule, checkable by hand).
Exits non-zero when the FP32 IR does not match PyTorch.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

# Configs mmtricks ships are named `mmtricks::PATH` (PATH under configs/),
# looked up in the installed package: this script runs from anywhere.
DEFAULT_DEPLOY_CFG = 'mmtricks::deploy/classification_openvino_static.py'


def parse_args(argv=None):
    from mmtricks.deploy import add_deploy_arguments
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the model (training) config: a path, '
                        'or a config mmtricks ships, e.g. '
                        'mmtricks::auto_mbv3.py')
    parser.add_argument('checkpoint', help='the trained .pth')
    parser.add_argument('--work-dir', required=True,
                        help='where the ONNX, IR and report go')
    parser.add_argument('--deploy-cfg', default=DEFAULT_DEPLOY_CFG,
                        help='MMDeploy deploy config (default: static shape)')
    # --precision, --accuracy-tolerance, ...: one per DeployOptions field.
    add_deploy_arguments(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override model config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmtricks.deploy import (DeployInputError, ParityError,
                                 deploy_checkpoint, options_from_args)
    from mmtricks.recipes import resolve_config
    try:  # mmtricks::NAME -> the config the installed package ships
        config = resolve_config(args.config)
        deploy_cfg = resolve_config(args.deploy_cfg)
    except FileNotFoundError as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    try:
        deploy_checkpoint(config, args.checkpoint, args.work_dir, deploy_cfg,
                          options_from_args(args),
                          cfg_options=args.cfg_options)
    except (DeployInputError, ParityError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    with open(osp.join(args.work_dir, 'deploy_report.md')) as f:
        print(f.read())
    return 0


if __name__ == '__main__':
    sys.exit(main())
