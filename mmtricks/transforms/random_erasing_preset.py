from mmpretrain.datasets.transforms import RandomErasing
from mmpretrain.registry import TRANSFORMS

# Pipeline images are BGR uint8 (cv2), so fill colours are ImageNet's BGR
# mean/std in pixel units.
IMAGENET_BGR_MEAN = (103.53, 116.28, 123.675)
IMAGENET_BGR_STD = (57.375, 57.12, 58.395)
PAPER_ASPECT = (0.3, 1 / 0.3)

RANDOM_ERASING_PRESETS = {
    # Zhong et al. 2017, the paper's setting: p=0.5, area in [0.02, 0.4],
    # aspect in [0.3, 1/0.3], random values (RE-R).
    'default': dict(erase_prob=0.5, min_area_ratio=0.02, max_area_ratio=0.4,
                    aspect_range=PAPER_ASPECT, mode='rand'),
    # The paper's RE-M variant: the same boxes filled with the mean colour.
    'mean': dict(erase_prob=0.5, min_area_ratio=0.02, max_area_ratio=0.4,
                 aspect_range=PAPER_ASPECT, mode='const',
                 fill_color=IMAGENET_BGR_MEAN),
    # The DeiT/timm ImageNet recipe, used beside mixup/CutMix: erase less
    # often (p=0.25), area up to 1/3, per-pixel normal noise around the mean.
    'light': dict(erase_prob=0.25, min_area_ratio=0.02, max_area_ratio=1 / 3,
                  aspect_range=PAPER_ASPECT, mode='rand',
                  fill_color=IMAGENET_BGR_MEAN, fill_std=IMAGENET_BGR_STD),
}


def random_erasing_args(preset: str, **overrides) -> dict:
    """``RandomErasing`` arguments of ``preset`` with ``overrides`` applied."""
    if preset not in RANDOM_ERASING_PRESETS:
        raise ValueError(f'Unknown random erasing preset {preset!r}; choose '
                         f'one of {sorted(RANDOM_ERASING_PRESETS)}.')
    args = dict(RANDOM_ERASING_PRESETS[preset], **overrides)
    for key in ('erase_prob', 'min_area_ratio', 'max_area_ratio'):
        value = args[key]
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f'{key} must be in [0, 1], got {value!r}.')
        args[key] = float(value)
    if args['min_area_ratio'] > args['max_area_ratio']:
        raise ValueError('min_area_ratio must not exceed max_area_ratio, got '
                         f'{args["min_area_ratio"]} > {args["max_area_ratio"]}.')
    aspect = args['aspect_range']
    args['aspect_range'] = float(aspect) if isinstance(aspect, (int, float)) \
        else tuple(float(v) for v in aspect)
    return args


@TRANSFORMS.register_module()
class RandomErasingPreset(RandomErasing):
    """MMPretrain's ``RandomErasing`` with the published settings by name.

    Zhong et al., "Random Erasing Data Augmentation" (AAAI 2020,
    arXiv 1708.04896). Presets (see ``RANDOM_ERASING_PRESETS``):
    ``'default'`` is the paper's (p=0.5, area 2-40%, random values),
    ``'mean'`` its RE-M variant (mean colour), ``'light'`` the DeiT/timm
    ImageNet recipe used together with mixup/CutMix (p=0.25). Any
    ``RandomErasing`` argument given here overrides the preset. Place it
    after cropping/flipping, before ``PackInputs``::

        dict(type='RandomErasingPreset', preset='light')

    Args:
        preset (str): ``'default'``, ``'mean'`` or ``'light'``.
        **overrides: ``RandomErasing`` arguments that replace the preset's.
    """

    def __init__(self, preset: str = 'default', **overrides):
        self.preset = preset
        super().__init__(**random_erasing_args(preset, **overrides))
