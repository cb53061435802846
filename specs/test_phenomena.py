"""Specs for the symptom each lesson names, with thresholds derived from the lesson."""

import math

import numpy as np

import trainspec
from examples import early_stopping, exploding, initialisation, input_noise, selu, softmax_logits


@trainspec.applies_to(softmax_logits.pair)
def test_loss_goes_below_the_double_softmax_floor(run):
    # With probabilities p in [0, 1] fed as logits, the best cross-entropy is reached at a
    # one-hot p: -log(e / (e + C - 1)) = log(1 + (C - 1)/e), 1.46 for 10 classes.  A model whose
    # loss never gets below that floor is being softmaxed twice.
    classes = run.n_classes or 2
    floor = math.log(1 + (classes - 1) / math.e)
    trainspec.expect(run.loss, run).to_reach_below(floor)


@trainspec.applies_to(input_noise.pair)
def test_generalises_to_clean_images(run):
    # Held-out clean digits: a model that learned the images scores well above chance (0.1);
    # one trained on noise that erased them scores near it.  0.5 is half-way to a good MLP's 0.9.
    assert run.val["val_accuracy"] >= 0.5, run.val


@trainspec.applies_to(exploding.pairs)
def test_updates_stay_smaller_than_weights(run):
    # An update larger than the weights it changes (||dW|| / ||W|| > 1) is the "insanely large
    # weight update" of exploding gradients; healthy runs stay near 1e-3 and clipped runs here
    # below 0.3.
    for layer in run.layers.list():
        trainspec.expect(layer.update_ratio, run).to_stay_below(1.0)


@trainspec.applies_to(initialisation.pair)
def test_signal_survives_depth(run):
    # Glorot under ReLU halves the variance at every layer: after 11 more layers the std is
    # 2**-5.5 ~ 0.02 of the first layer's; He keeps it (measured ~0.7).  Requiring a quarter of
    # the first hidden layer's std at the last hidden layer, at step 0, separates them.
    hidden = [a for a in run.activations.list() if a.kind != trainspec.ActivationKind.SOFTMAX]
    ratio = hidden[-1].std[0] / hidden[0].std[0]
    assert ratio >= 0.25, f"activation std at {hidden[-1].name} is {ratio:.3g} x the first layer's"


@trainspec.applies_to(selu.pair)
def test_self_normalising(run):
    # SELU + lecun_normal on standardised inputs keeps every layer at mean 0 / std 1 (measured
    # |mean| <= 0.03, std 0.9-1.0); ReLU's outputs are never negative, mean ~0.5.  Allow
    # |mean| <= 0.25 and std within a factor 4/3 of 1.
    trainspec.expect(run).activations_normalised(mean_within=0.25, std_range=(0.75, 1.33))


@trainspec.applies_to(early_stopping.pair)
def test_keeps_the_best_model(run):
    # The model kept at the end should be (close to) the best seen on validation: within 10% of
    # the lowest validation loss evaluated.  Overfitting without early stopping ends ~30% above.
    best = float(np.min(np.asarray(run.val_history["val_loss"])))
    final = run.val["val_loss"]
    assert final <= 1.1 * best, f"final val_loss {final:.3g} vs best {best:.3g}"


@trainspec.applies_to(early_stopping.pair)
def test_stops_when_validation_stalls(run):
    # Training past the point where validation stopped improving wastes steps and overfits:
    # the run must stop before its step budget.
    assert run.stopped_early_at is not None, "trained every step; nothing stopped it"
    assert run.stopped_early_at < run.steps_requested
