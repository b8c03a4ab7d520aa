"""Widen a trained BiGRU speech network (more units a layer) keeping what it has learned.

Net2WiderNet (Chen, Goodfellow & Shlens 2016, arXiv 1511.05641): each new unit copies an
existing one, with the copy's incoming weights equal to its source's and the outgoing
weights of a unit and its copies divided between them. A GRU unit's copies then stay equal
at every time step (they see the same input and the same recurrent sum), so each layer's
output is its old output with some features repeated. The layer norm between the recurrent
layers averages over the repeated features, so the widened network is close to the old one
rather than equal to it; the dropout after each layer norm gives the copies different
gradients, and training takes them apart.

Example:
    >>> task = SpeechTask.from_preset("bigru_small")   # 2x BiGRU-128, projection 128
    >>> wide = widen_bigru(task, units=192)            # 2x BiGRU-192, projection 192
    >>> wide.model.count_params() > task.model.count_params()
    True
"""

import numpy as np

GATES = 3  # a Keras GRU stacks its update, reset and candidate blocks along the last axis


def unit_map(old, new, rng):
    """Source unit of each of ``new`` units: the ``old`` units first, then copies drawn
    without repeats while they last (so no unit gets two copies before all have one)."""
    extra, sources = new - old, []
    while extra > 0:
        sources.append(rng.permutation(old)[:extra])
        extra -= old
    return np.concatenate([np.arange(old)] + sources).astype(np.int64)


def _outputs(kernel, source, blocks=1):
    """Columns of ``kernel`` ``[..., blocks * old]`` for the widened units, block by block."""
    old = kernel.shape[-1] // blocks
    split = kernel.reshape(kernel.shape[:-1] + (blocks, old))
    return split[..., source].reshape(kernel.shape[:-1] + (blocks * len(source),))


def _inputs(kernel, source):
    """Rows of ``kernel`` for widened input features, each divided by its source's copies."""
    counts = np.bincount(source, minlength=kernel.shape[0])
    return kernel[source] / counts[source][:, None]


def _jitter(array, old_width, rng, noise, blocks=1):
    """Noise (``noise`` x the array's spread) on the new units' columns only."""
    if noise <= 0:
        return array
    split = array.reshape(array.shape[:-1] + (blocks, -1)).copy()
    new = split[..., old_width:]
    split[..., old_width:] = new + rng.normal(0.0, noise * (array.std() + 1e-12), new.shape)
    return split.reshape(array.shape)


def widen_bigru(task, units, projection=None, noise=0.0, seed=0):
    """A new SpeechTask with ``units`` GRU units a direction (and a ``projection``-wide
    input projection, default ``units``), its weights grown from ``task``'s.

    Args:
        task: a trained speech task of architecture ``"bigru"``.
        units: GRU units a direction, at least the task's.
        projection: width of the dense projection before the recurrent layers, at least
            the task's (default: ``units``, as the ``bigru`` presets are built).
        noise: Gaussian noise on the new units' incoming weights, as a fraction of each
            weight tensor's standard deviation (0: the copies start exactly equal).
        seed: which units are copied, and the noise.

    Example:
        >>> wide = widen_bigru(Task.load("tasks/speech/weights/speech_en_bigru"), 320, noise=0.01)
        >>> wide.save("runs/speech_wide/start")   # 3x BiGRU-256 -> 3x BiGRU-320
    """
    config = task.config
    if config["architecture"] != "bigru":
        raise ValueError(f"task: expected a 'bigru' speech network, got architecture "
                         f"{config['architecture']!r}")
    options = dict(config["options"])
    old_units, old_projection = options.get("units", 256), options.get("projection", 256)
    projection = units if projection is None else projection
    for name, value, old in (("units", units, old_units), ("projection", projection, old_projection)):
        if not isinstance(value, (int, np.integer)) or value < old:
            raise ValueError(f"{name}={value!r}; expected an int at least the network's {old}")
    if noise < 0:
        raise ValueError(f"noise={noise!r}; expected a fraction >= 0")
    rng = np.random.default_rng(seed)
    wide = type(task)(config={**config, "options": {**options, "units": int(units),
                                                    "projection": int(projection)}},
                      preprocessor=task.preprocessor)
    if config.get("language_model"):  # saved beside the widened model as beside this one
        wide._language_model_source = task.language_model_path()
    old, new = task.model, wide.model
    for layer in old.layers:  # everything outside the widened stack is copied as it is
        if layer.weights and layer.name != "project" and not layer.name.startswith(("rnn", "logits")):
            new.get_layer(layer.name).set_weights(layer.get_weights())

    kernel, bias = old.get_layer("project").get_weights()
    feature_source = unit_map(old_projection, projection, rng)
    new.get_layer("project").set_weights([_jitter(_outputs(kernel, feature_source), old_projection,
                                                  rng, noise),
                                          _outputs(bias, feature_source)])
    layer_index = 0
    while True:
        try:
            rnn = old.get_layer(f"rnn{layer_index}")
        except ValueError:
            break
        source = unit_map(old_units, units, rng)
        weights = []
        for direction in (rnn.forward_layer, rnn.backward_layer):
            kernel, recurrent, bias = direction.get_weights()
            kernel = _jitter(_outputs(_inputs(kernel, feature_source), source, GATES),
                             old_units, rng, noise, GATES)
            recurrent = _outputs(_inputs(recurrent, source), source, GATES)
            weights += [kernel, recurrent, _outputs(bias, source, GATES)]
        new.get_layer(f"rnn{layer_index}").set_weights(weights)
        # the layer's output is [forward units, backward units]: both halves widen alike
        feature_source = np.concatenate([source, old_units + source])
        norm = old.get_layer(f"rnn{layer_index}_norm")
        new.get_layer(norm.name).set_weights([w[feature_source] for w in norm.get_weights()])
        layer_index += 1
    kernel, bias = old.get_layer("logits").get_weights()
    new.get_layer("logits").set_weights([_inputs(kernel, feature_source), bias])
    return wide
