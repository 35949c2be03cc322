import warnings

import pytest

from mmtricks.datasets.export import export_bundled


def test_overwrite_warns_only_of_images_the_dataset_would_read(tmp_path):
    (tmp_path / '.cache').mkdir()
    (tmp_path / '.cache' / 'x.png').write_bytes(b'not read: hidden folder')
    (tmp_path / '._0.png').write_bytes(b'not read: AppleDouble')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        export_bundled('lfw_faces', str(tmp_path), overwrite=True)
    (tmp_path / 'train' / 'face' / 'stray.png').write_bytes(b'read')
    with pytest.warns(UserWarning, match='stray.png'):
        export_bundled('lfw_faces', str(tmp_path), overwrite=True)
