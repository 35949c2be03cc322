import pytest

from benchmarks.bag_of_tricks import PARTS, VARIANTS, strip_part, \
    variant_config
from benchmarks.runs import initialisers


def _parts_on(cfg):
    """Which of the recipe's Bag of Tricks parts ``cfg`` has on."""
    init = initialisers(cfg.model.backbone.get('init_cfg'))
    return {
        'no_bias_decay': 'paramwise_cfg' in cfg.optim_wrapper,
        'zero_gamma': any(c['type'] == 'ZeroInitLastBN' for c in init),
        'label_smoothing': cfg.model.head.loss['type'] == 'LabelSmoothLoss',
    }


def test_baseline_strips_the_three_parts_and_each_row_adds_one(tmp_path):
    on = {name: _parts_on(variant_config(name, 'digits', 2, 0,
                                         str(tmp_path)))
          for name in VARIANTS if name != 'distill'}
    assert on['recipe'] == dict.fromkeys(PARTS, True)
    assert on['progressive'] == dict.fromkeys(PARTS, True)
    assert on['baseline'] == dict.fromkeys(PARTS, False)
    for part in PARTS:  # exactly its own part, so no row equals another
        assert on[part] == {p: p == part for p in PARTS}, part


def test_a_part_the_recipe_no_longer_ships_is_an_error(tmp_path):
    cfg = variant_config('baseline', 'digits', 2, 0, str(tmp_path))
    for part in PARTS:
        with pytest.raises(ValueError):
            strip_part(cfg, part)
