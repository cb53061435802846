"""The course's sweeps: each point checked, the report tabulates them, and the course's
findings asserted across points (which setting wins, which fails, which is slow), so the
tables a student compares with the course notes keep telling the same story."""

import trainspec
from examples import sweeps
from trainspec.pairs import resolve


@trainspec.applies_to(sweeps.SWEEPS)
def test_stays_finite(run):
    # None of these settings should diverge to Inf/NaN; the tables compare how well they learn.
    trainspec.expect(run).to_be_finite()


@trainspec.applies_to(sweeps.OPTIMIZER, sweeps.HIDDEN_SIZES, sweeps.LOSSES)
def test_loss_does_not_rise(run):
    # Even the slowest point must move the loss the right way.  (The learning-rate and
    # activation sweeps have a point that fails on purpose: asserted below.)
    assert run.loss.relative_decrease() > 0.0


def _runs(sweep):
    return {label: trainspec.train(resolve(src, label)) for label, src in sweep.points()}


def _val_accuracy(sweep):
    return {label: run.val["val_accuracy"] for label, run in _runs(sweep).items()}


def test_learning_rate_table_0_01_best_0_1_fails_0_0001_slow():
    # The course's results table (SGD, hidden layers of 128 and 256): 0.01 best (0.975),
    # 0.001 next (0.936), 0.0001 slow (0.735), 0.1 at chance (0.097).  Measured here: 0.94,
    # 0.81, 0.35, 0.10.
    runs = _runs(sweeps.LEARNING_RATE)
    acc = {label.split("=")[1]: run.val["val_accuracy"] for label, run in runs.items()}
    assert max(acc, key=acc.get) == "0.01", acc
    assert acc["0.01"] > acc["0.001"] > acc["0.0001"], acc
    # 0.1 fails: validation accuracy at chance (1/10) and the ReLU units dead
    failed = runs["learning_rate=0.1"]
    assert acc["0.1"] <= 0.2, acc
    assert failed.summary()["dead_fraction_max"] >= 0.9, failed.summary()
    # 0.0001 is slow, not broken: above chance, its loss falling (by 9% in 300 steps, and
    # still falling at the end), its units alive
    slow = runs["learning_rate=0.0001"]
    assert acc["0.0001"] > 0.2 and slow.loss.relative_decrease() > 0.05, (acc, slow.summary())
    assert slow.loss.median(20) < slow.loss[-60:-20].median(), slow.loss
    assert slow.summary()["dead_fraction_max"] < 0.5, slow.summary()


def test_optimizer_table_adaptive_match_sgd_adagrad_last():
    # The course's results table: rmsprop (0.978), adam (0.976) and sgd (0.975) within 0.003 of
    # each other, adagrad last (0.950).  Each at a fair rate here (see examples/sweeps.py):
    # measured sgd 0.94, adam 0.97, rmsprop 0.94, adagrad 0.77.  The adaptive ones must match
    # tuned SGD (no more than 0.01 below it) and adagrad must be last, 0.05 below the others.
    acc = {label.split("=")[1]: v for label, v in _val_accuracy(sweeps.OPTIMIZER).items()}
    for name in ("adam", "rmsprop", "adamw"):
        assert acc[name] >= acc["sgd"] - 0.01, acc
    others = [v for k, v in acc.items() if k != "adagrad"]
    assert acc["adagrad"] < min(others) - 0.05, acc


def test_momentum_and_nesterov_beat_plain_sgd_at_the_same_step():
    # The MLflow notebook's derivation: with beta = 0.9 an update carries 0.9 of the last one,
    # 0.81 of the one before..., 1 / (1 - beta) = 10 times SGD's step on a steady gradient; at
    # a tenth of SGD's rate both take its step, and what is left is what momentum adds (it
    # "can jump through saddle points").  Nesterov evaluates the gradient after the velocity's
    # step, a correction plain momentum lacks.  Measured: sgd 0.941, momentum 0.953, Nesterov
    # 0.967.
    acc = {label.split("=")[1]: v for label, v in _val_accuracy(sweeps.OPTIMIZER).items()}
    assert acc["momentum"] > acc["sgd"] and acc["nesterov"] > acc["sgd"], acc
    assert acc["nesterov"] >= acc["momentum"], acc


def test_cross_entropy_learns_fastest_mse_on_one_hot_slowest():
    # The MLflow notebook's losses on one model and budget (SGD at 0.1, 200 steps): the
    # cross-entropy's gradient is (p - y), undamped; focal cross-entropy down-weights the
    # examples already right, the categorical hinge stops at a margin, and MSE through a
    # softmax multiplies its gradient by the softmax's slope, small once outputs saturate.
    # Measured: 0.90, 0.75, 0.61 and 0.26 validation accuracy.
    acc = {label.split("=")[1]: v for label, v in _val_accuracy(sweeps.LOSSES).items()}
    assert max(acc, key=acc.get) == "crossentropy", acc
    assert min(acc, key=acc.get) == "mse_one_hot", acc


def test_second_layer_width_barely_matters():
    # The course's results table: rmsprop with a second layer of 256, 128 or 64 units scores
    # 0.978, 0.978 and 0.976: the width of the second layer barely matters on this task.  The
    # grid here, with sgd and rmsprop, must spread by less than 0.05 per optimizer.
    acc = _val_accuracy(sweeps.HIDDEN_SIZES)
    by_optimizer: dict[str, list[float]] = {}
    for label, value in acc.items():
        columns = sweeps.HIDDEN_SIZES_COLUMNS[label]
        by_optimizer.setdefault(columns["optimizer"], []).append(value)
    assert set(by_optimizer) == {"sgd", "rmsprop"}
    for optimizer, values in by_optimizer.items():
        assert len(values) == 3 and max(values) - min(values) < 0.05, (optimizer, acc)
        assert min(values) > 0.85, (optimizer, acc)


def test_activation_table_relu_best_softmax_worst():
    # The MLflow notebook's activation table, by test accuracy: relu > tanh > selu > sigmoid >
    # softmax, softmax worst with both initializers.  Measured here: relu 0.90, selu and tanh
    # 0.82-0.83, sigmoid 0.28, softmax 0.10 (chance).  Asserted: a relu point is best, softmax
    # is last and at chance, sigmoid is below every relu, tanh and selu point, and every point
    # but softmax moves its loss down.
    runs = _runs(sweeps.ACTIVATION_INITIALIZER)
    acc = {label: run.val["val_accuracy"] for label, run in runs.items()}
    assert max(acc, key=acc.get).startswith("relu+"), acc
    assert min(acc, key=acc.get).startswith("softmax+") and acc["softmax+glorot_uniform"] <= 0.2, acc
    sigmoid = acc["sigmoid+glorot_uniform"]
    assert all(sigmoid < v for k, v in acc.items() if k.split("+")[0] in ("relu", "tanh", "selu"))
    for label, run in runs.items():
        if not label.startswith("softmax+"):
            assert run.loss.relative_decrease() > 0.0, (label, run.loss.change())
