"""A user claim for ``symcnn check --load my_claims`` (docs/theorems.md; tested)."""

import numpy as np

from symcnn import Fast, aligned_spectrum, init_balanced, instances, train
from symcnn.theorems import Instance, Theorem, register
from symcnn.theory import Theory


def space(pick):                     # pick.integer(low, high), pick.choice(options)
    model = instances.model(pick, full_kernel=True, max_depth=1, c_in=(1,))
    stats = instances.white(model, instances.seed(pick))
    u0 = 1e-3
    start = init_balanced(model, aligned_spectrum(stats, u0))
    return Instance(model, stats, start, np.linspace(0, 5, 6), u0, label="white input")


def predict(instance):               # here the loss of the closed form
    return Theory(instance.model, instance.stats).loss(instance.times, instance.u0)


def measure(instance):               # and the loss of the trained network
    run = train(Fast(instance.model, instance.stats), instance.params, instance.times,
                rtol=1e-10)
    return run.loss


register(Theorem(
    name="my claim", title="The loss follows the closed form", statement=r"L(t) = \dots",
    hypotheses=("linear CNN", "full kernel", "white input", "one input channel", "depth 1"),
    space=space, predict=predict, measure=measure, tolerance=1e-8))
