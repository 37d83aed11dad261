"""The speed benchmark measures the gallery's own networks."""

from bnngallery.runs import settings


def test_advi_speed_gallery_mnist_is_the_gallery_setting(benchmark_script):
    bench = benchmark_script("advi_speed")
    model = settings.MNIST_MODEL
    assert {k: model[k] for k in bench.GALLERY_MNIST} == bench.GALLERY_MNIST
    assert bench.CASES["mnist-mlp-gallery"]["model"]["temperature"] == settings.MLP_TEMPERATURE
