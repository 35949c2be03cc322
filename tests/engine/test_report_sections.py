"""The report's sections, from facts made by hand."""
from mmtricks.engine.report_sections import (markdown_tables,
                                             operating_point_section)


def test_deploy_markdown_tables_become_html_tables():
    text = '# Title\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\nafter\n'
    html = markdown_tables(text)
    assert '<table><tr><th>a</th><th>b</th></tr>' in html
    assert '<td>1</td><td>2</td>' in html and '<p>after</p>' in html


def test_the_operating_point_shows_val_choice_and_test_numbers():
    point = dict(class_index=1, class_name='defective', threshold=0.3,
                 rule='macro-F1', recall=0.9, precision=0.8)
    test = {'accuracy/top1': 90.0, 'operating_point/recall': 95.0,
            'operating_point/argmax_recall': 62.0}
    html = operating_point_section(dict(meta=dict(operating_point=point),
                                        scalars=[test]))
    assert '<td>class_name</td><td>defective</td>' in html
    assert '<td>argmax_recall</td><td class="n">62.00</td>' in html
    assert '<td>recall</td><td class="n">95.00</td>' in html
    assert 'class="missing"' in operating_point_section(
        dict(meta={}, scalars=[]))
