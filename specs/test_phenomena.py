"""Specs for the symptom each lesson names, with thresholds derived from the lesson."""

import math

import numpy as np

import trainspec
from examples import (
    checkpointing,
    early_stopping,
    exploding,
    initialisation,
    input_noise,
    momentum,
    regularisation,
    selu,
    softmax_logits,
    transfer_learning,
)


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


@trainspec.applies_to(regularisation.pairs)
def test_validation_loss_does_not_climb(run):
    # Overfitting shows on validation: after its minimum the validation loss climbs while the
    # training loss keeps falling.  The unregularised model ends 15% above its best; the L2
    # and L1 models are still at their best at the end, dropout 7% above.  10% separates them.
    best = float(np.min(np.asarray(run.val_history["val_loss"])))
    final = run.val["val_loss"]
    assert final <= 1.1 * best, f"final val_loss {final:.3g} is {final / best:.2f} x the best ({best:.3g})"


@trainspec.applies_to(regularisation.pairs)
def test_train_validation_gap_stays_small(run):
    # A model that memorised its 256 images drives its training loss to ~0.002 while the
    # validation loss stays near 0.8: 400 times it.  With L2, L1 or dropout the training
    # objective stays within 2-10x of the validation loss.  20x separates them.
    train = run.loss.median(20)
    val = run.val["val_loss"]
    assert val <= 20 * train, (
        f"validation loss {val:.3g} is {val / max(train, 1e-12):.0f} x the training loss "
        f"{train:.3g}: the model memorised its training set")


def _first_step_reaching(run, metric, level):
    series = run.val_history[metric]
    hits = [int(step) for step, value in zip(series.steps, np.asarray(series), strict=True)
            if value >= level]
    return hits[0] if hits else None


@trainspec.applies_to(transfer_learning.pairs)
def test_reaches_target_accuracy_in_few_steps(run):
    # From scratch on 50 images the validation accuracy stops at 0.71; the frozen pretrained
    # layers pass 0.75 at the first evaluation (step 9), and so does fine-tuning from them.
    # The same accuracy, 0.75, must be reached within 60 steps.
    step = _first_step_reaching(run, "val_accuracy", 0.75)
    assert step is not None and step < 60, (
        f"validation accuracy reached 0.75 at step {step} (required: within 60 steps); "
        f"it peaked at {float(np.max(np.asarray(run.val_history['val_accuracy']))):.3g}")


@trainspec.applies_to(transfer_learning.pairs)
def test_final_validation_accuracy(run):
    # Transfer should end higher than what 50 images allow from scratch (0.71): 0.97 measured
    # frozen, 0.96 fine-tuned.  0.8 leaves room on both sides.
    assert run.val["val_accuracy"] >= 0.8, run.val


@trainspec.applies_to(transfer_learning.base)
def test_base_learns_the_source_task(run):
    # The base the transfer pairs reuse must know its own task: ten digits, 0.97 validation
    # accuracy measured after 256 steps; features from a base at chance would transfer nothing.
    # (Its run here is the one the transfer recipes loaded their weights from: the same run.)
    assert run.val["val_accuracy"] >= 0.9, run.val


@trainspec.applies_to(momentum.pair)
def test_reaches_the_bottom_of_the_ravine(run):
    # Plain SGD removes 65% of the loss in 300 steps (it crawls along the flat direction);
    # momentum 0.9 at the same learning rate removes all of it.  Require 95%.
    trainspec.expect(run).loss_to_fall_by(0.95)


@trainspec.applies_to(checkpointing.pair)
def test_restored_checkpoint_is_the_best_seen(run):
    # The model evaluated after training is the one restored from the checkpoint: its
    # validation loss must equal the lowest one seen at an evaluation (same weights, same
    # data, so up to float rounding).  Monitoring the training loss restores the last model,
    # 25% above the best.
    best = float(np.min(np.asarray(run.val_history["val_loss"])))
    final = run.val["val_loss"]
    assert math.isclose(final, best, rel_tol=1e-5), (
        f"restored model's val_loss {final:.6g} differs from the best seen, {best:.6g}")
