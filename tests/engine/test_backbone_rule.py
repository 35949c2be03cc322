"""The backbone rule: pretrained when it gets its epochs, else scratch."""
import pytest

from mmtricks.engine.backbone_rule import BackboneOption, choose_backbone
from mmtricks.engine.budget_plan import BudgetPlan


def plan(epochs, size=64):
    return BudgetPlan(budget_s=300.0, image_size=size, max_epochs=epochs,
                      finder_steps=15, epoch_s=5.0, reason='')


SCRATCH = dict(recipe='auto_mbv3.py', pretrained=False, needed_epochs=40)
PRETRAINED = dict(recipe='auto_effnet_lite0.py', pretrained=True,
                  needed_epochs=20)


def test_without_a_budget_pretrained_weights_win_when_here():
    pick, why = choose_backbone([BackboneOption(**SCRATCH),
                                 BackboneOption(**PRETRAINED)])
    assert pick == 1 and 'auto_effnet_lite0.py' in why
    absent = dict(PRETRAINED, pretrained=False)
    pick, why = choose_backbone([BackboneOption(**SCRATCH),
                                 BackboneOption(**absent)])
    assert pick == 0 and 'no candidate has pretrained weights' in why


def test_pretrained_wins_when_it_gets_its_epochs():
    pick, why = choose_backbone([
        BackboneOption(**SCRATCH, plan=plan(120, 128)),
        BackboneOption(**PRETRAINED, plan=plan(20, 64))])
    assert pick == 1
    assert 'Also measured: auto_mbv3.py (from scratch): 128 px, 120' in why


def test_scratch_wins_when_pretrained_cannot_get_its_epochs():
    pick, why = choose_backbone([
        BackboneOption(**SCRATCH, plan=plan(45)),
        BackboneOption(**PRETRAINED, plan=plan(19))])
    assert pick == 0 and 'gets the epochs it needs' in why


def test_when_none_gets_its_epochs_the_largest_share_wins():
    options = [BackboneOption(**SCRATCH, plan=plan(30)),    # 75%
               BackboneOption(**PRETRAINED, plan=plan(12))]  # 60%
    assert choose_backbone(options)[0] == 0
    options[1] = BackboneOption(**PRETRAINED, plan=plan(16))  # 80%
    assert choose_backbone(options)[0] == 1


def test_a_refused_candidate_is_skipped_and_all_refused_is_an_error():
    pick, why = choose_backbone([
        BackboneOption(**SCRATCH, plan=plan(50)),
        BackboneOption(**PRETRAINED, refused='too small: 9 epochs')])
    assert pick == 0 and 'too small: 9 epochs' in why
    with pytest.raises(ValueError, match='give 3 min.*give 9 min'):
        choose_backbone([BackboneOption(**SCRATCH, refused='give 3 min'),
                         BackboneOption(**PRETRAINED, refused='give 9 min')])
    with pytest.raises(ValueError):
        choose_backbone([])
