"""Where did the model look? Recipro-CAM overlays of a trained checkpoint.

    python tools/explain.py configs/auto_mbv3.py \
        work_dirs/auto_mbv3/best_auto_epochs.pth --split val \
        --out work_dirs/auto_mbv3/explain
    python tools/explain.py CONFIG CHECKPOINT --images photos/ --out DIR

writes one PNG per image (the predicted class's saliency map, jet colours,
blended onto the image the network saw) and ``saliency_index.json`` (path,
label, prediction, score, peak location in that image, overlay file). The
config is made concrete for the checkpoint as ``tools/deploy.py`` makes it
(its data decisions, its classes checked); the same maps are an optional
output of the deployed IR (``tools/deploy.py --explain``, docs/deploy.md).
"""
import argparse
import sys

from mmengine.config import DictAction

DEPLOY_CFG = 'mmtricks::deploy/classification_openvino_static.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the model (training) config, or '
                        'mmtricks::NAME for one mmtricks ships')
    parser.add_argument('checkpoint', help='the trained .pth')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--split', default='val', choices=('val', 'test'),
                        help='a split of the config\'s data (default: val)')
    source.add_argument('--images', help='a folder of images instead')
    parser.add_argument('--out', required=True, help='folder for the PNGs')
    parser.add_argument('--limit', type=int, default=100,
                        help='at most this many images (default: 100)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override model config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmdeploy.apis import build_task_processor

    from mmtricks.deploy import DeployInputError
    from mmtricks.deploy.classifier import list_images
    from mmtricks.deploy.inputs import build_checked_model
    from mmtricks.deploy.prepare import prepare_configs
    from mmtricks.deploy.saliency import INDEX_FILE, explain_images
    from mmtricks.recipes import resolve_config
    try:
        model_cfg, deploy_cfg = prepare_configs(
            resolve_config(args.config), resolve_config(DEPLOY_CFG),
            args.cfg_options, args.checkpoint)
        processor = build_task_processor(model_cfg, deploy_cfg, 'cpu')
        model, saved = build_checked_model(processor, args.checkpoint)
        names = saved.get('meta', {}).get('dataset_meta', {}).get(
            'classes') or ()
        entries = explain_images(model, model_cfg, args.out,
                                 split=None if args.images else args.split,
                                 images=list_images(args.images)
                                 if args.images else (), limit=args.limit,
                                 class_names=names)
    except (DeployInputError, FileNotFoundError, ValueError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    right = sum(e['label'] == e['prediction'] for e in entries
                if e['label'] is not None)
    print(f'{len(entries)} overlays in {args.out} ({right} predicted right); '
          f'index: {INDEX_FILE}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
