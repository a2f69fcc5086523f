"""make_clinical_multimodal(target="survival" | "multilabel")."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from skfusion.datasets import make_clinical_multimodal
from skfusion.metrics import concordance_index


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("targets")
    common = dict(image_dir=folder, image_size=8, random_state=0, return_latent=True)
    return {
        target: make_clinical_multimodal(1500, target=target, **common)
        for target in ("binary", "survival", "multilabel")
    }


def test_x_and_latents_do_not_depend_on_the_target(tables):
    X, _, latent = tables["binary"]
    for target in ("survival", "multilabel"):
        assert tables[target][0].equals(X)
        assert tables[target][2].equals(latent)


def test_survival_target_is_censored_as_asked_with_ties(tables):
    _, y, latent = tables["survival"]
    assert y.dtype.names == ("event", "time")
    assert y["event"].dtype == bool
    assert (y["time"] >= 1).all()
    assert y["time"].tolist() == np.round(y["time"]).tolist()  # whole days
    assert abs((~y["event"]).mean() - 0.3) < 0.04
    assert len(np.unique(y["time"])) < len(y)  # tied times occur
    # the true log hazard ranks the times; each latent alone less well
    truth = concordance_index(y, latent.sum(axis=1).to_numpy())
    assert 0.75 < truth < 0.9
    for column in latent:
        assert 0.55 < concordance_index(y, latent[column].to_numpy()) < truth - 0.05


def test_no_censoring_and_interaction_hazard(tmp_path):
    _, y, latent = make_clinical_multimodal(
        400, image_dir=tmp_path, image_size=8, target="survival", censoring=0.0,
        signal="interaction", random_state=1, return_latent=True,
    )
    assert y["event"].all()
    product = (latent["tabular"] * latent["image"]).to_numpy()
    assert concordance_index(y, product) > 0.65
    assert abs(concordance_index(y, latent["tabular"].to_numpy()) - 0.5) < 0.06


def test_multilabel_labels_follow_their_modalities(tables):
    _, y, latent = tables["multilabel"]
    assert y.shape == (1500, 3)
    assert set(np.unique(y)) == {0, 1}
    assert np.all(np.abs(y.mean(axis=0) - 0.5) < 0.06)
    uses = [("tabular", "text"), ("text", "image"), ("tabular", "image")]
    for label, used in enumerate(uses):
        for column in latent:
            rho = spearmanr(y[:, label], latent[column]).statistic
            if column in used:
                assert rho > 0.3, (label, column, rho)
            else:
                assert abs(rho) < 0.08, (label, column, rho)


def test_multilabel_needs_the_additive_signal(tmp_path):
    with pytest.raises(ValueError, match="target='multilabel' needs signal='additive'"):
        make_clinical_multimodal(
            10, image_dir=tmp_path, target="multilabel", signal="interaction"
        )
