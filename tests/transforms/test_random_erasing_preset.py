import numpy as np
import pytest

from mmpretrain.registry import TRANSFORMS
from mmtricks.transforms import RandomErasingPreset, random_erasing_args


def test_default_preset_is_the_papers_setting():
    erasing = TRANSFORMS.build(dict(type='RandomErasingPreset'))
    assert (erasing.erase_prob, erasing.min_area_ratio,
            erasing.max_area_ratio, erasing.mode) == (0.5, 0.02, 0.4, 'rand')
    assert erasing.aspect_range == pytest.approx((0.3, 1 / 0.3))


def test_light_preset_and_overrides():
    erasing = RandomErasingPreset('light', erase_prob=1)
    assert erasing.erase_prob == 1.0  # int accepted and converted
    assert erasing.max_area_ratio == pytest.approx(1 / 3)
    assert erasing.fill_std is not None


def test_mean_preset_fills_with_the_mean_colour():
    erasing = RandomErasingPreset('mean', erase_prob=1.0,
                                  min_area_ratio=0.3, max_area_ratio=0.3)
    img = np.zeros((20, 20, 3), dtype=np.uint8)
    np.random.seed(0)
    out = erasing(dict(img=img))['img']
    erased = out.any(-1)
    assert 0.2 * 400 <= erased.sum() <= 0.4 * 400
    assert (out[erased] == np.array([103, 116, 123])).all()


@pytest.mark.parametrize('preset, overrides', [
    ('strongest', {}), ('default', dict(erase_prob=1.5)),
    ('default', dict(min_area_ratio=0.5, max_area_ratio=0.1))])
def test_bad_presets_fail_with_a_message(preset, overrides):
    with pytest.raises(ValueError):
        random_erasing_args(preset, **overrides)
