"""A TensorFlow Lite flatbuffer -> an equivalent Keras functional model.

Registries ship useful pretrained networks only as ``.tflite`` files (MediaPipe's
detectors inside npm packages, for one). ``tf.lite.Interpreter`` can run them, but it is
deprecated, does not export into a SavedModel and hides layer options; so the build scripts
turn the flatbuffer into ordinary Keras layers once, with the weights copied exactly, and
everything downstream (training on top, export, serving) sees a plain Keras model.

The op set is what convolutional vision backbones and SSD heads use; anything else is a
clear ``ValueError`` naming the op, never a silently wrong graph.

Example:

    model, names = keras_model_from_tflite(open("detector.tflite", "rb").read())
    boxes, scores = model(images)          # outputs in the flatbuffer's order, see ``names``
"""

import keras
import numpy as np

# TFLite's fused activations (schema ActivationFunctionType); RELU_N1_TO_1 is rare enough to
# refuse rather than emulate.
_ACTIVATIONS = {0: None, 1: "relu", 3: "relu6", 4: "tanh"}
_NUMPY_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RESHAPE", "CONCATENATION", "DEQUANTIZE",
                 "LOGISTIC", "RELU", "RELU6", "AVERAGE_POOL_2D", "MAX_POOL_2D")


def _flatbuffer(buffer):
    import tflite  # the schema's generated reader; only the build-time conversion needs it

    if not isinstance(buffer, (bytes, bytearray)):
        raise TypeError(f"buffer must be the bytes of a .tflite file, got {type(buffer).__name__}")
    if len(buffer) < 8 or bytes(buffer[4:8]) != b"TFL3":
        raise ValueError("buffer is not a TensorFlow Lite flatbuffer (no 'TFL3' identifier)")
    return tflite, tflite.Model.GetRootAsModel(bytes(buffer), 0)


def _options(tflite, op, kind):
    table = op.BuiltinOptions()
    options = getattr(tflite, kind)()
    options.Init(table.Bytes, table.Pos)
    return options


def _activation(code, op_name):
    if code not in _ACTIVATIONS:
        raise ValueError(f"{op_name}: fused activation {code} is not supported")
    return _ACTIVATIONS[code]


def _padding(code):
    return "same" if code == 0 else "valid"


def keras_model_from_tflite(buffer, name="tflite_model"):
    """Rebuild a float TFLite model as a Keras functional model with the same weights.

    Args:
        buffer: the bytes of a ``.tflite`` file (float32 or float16 weights; quantised
            integer models are refused).
        name: the Keras model's name.

    Returns:
        ``(model, output_names)``: a ``keras.Model`` taking the first subgraph's inputs
        (batch dimension free) and returning its outputs in order, and the TFLite names of
        those outputs.

    Raises:
        ValueError: the bytes are not a TFLite model, or it uses an op or option outside
            ``SUPPORTED_OPS``.

    Example:
        >>> model, names = keras_model_from_tflite(open("ssd.tflite", "rb").read())
        >>> names
        ['raw_outputs/box_encodings', 'raw_outputs/class_predictions']
    """
    tflite, model = _flatbuffer(buffer)
    ops_by_code = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    graph = model.Subgraphs(0)

    def tensor_name(i):
        return graph.Tensors(i).Name().decode("utf-8")

    def constant(i):
        tensor = graph.Tensors(i)
        data = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data.size == 0:  # no buffer: produced at run time
            return None
        if tensor.Type() not in _NUMPY_TYPES:
            raise ValueError(f"tensor {tensor_name(i)!r} has TFLite type {tensor.Type()}, "
                             "which is not supported (quantised models are not)")
        shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        return np.frombuffer(data.tobytes(), _NUMPY_TYPES[tensor.Type()]).reshape(shape)

    values = {}  # tensor index -> Keras tensor
    consts = {}  # tensor index -> numpy array, for weights (after DEQUANTIZE)
    inputs = []
    for i in graph.InputsAsNumpy():
        shape = [int(d) for d in graph.Tensors(i).ShapeAsNumpy()]
        values[i] = keras.Input(shape=tuple(shape[1:]), name=tensor_name(i).replace(":", "_"))
        inputs.append(values[i])

    def const(i):
        if i not in consts:
            consts[i] = constant(i)
        return consts[i]

    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        op_name = ops_by_code.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        ins, outs = list(op.InputsAsNumpy()), list(op.OutputsAsNumpy())
        layer_name = f"{op_name.lower()}_{k}"
        if op_name not in SUPPORTED_OPS:
            raise ValueError(f"op {k} ({op_name}) is not supported; supported: {SUPPORTED_OPS}")
        if op_name == "DEQUANTIZE":
            weights = const(ins[0])
            if weights is None or weights.dtype != np.float16:
                raise ValueError(f"op {k}: only float16 -> float32 DEQUANTIZE of weights is supported")
            consts[outs[0]] = weights.astype(np.float32)
            continue
        x = values[ins[0]]
        if op_name == "CONV_2D":
            o = _options(tflite, op, "Conv2DOptions")
            kernel = const(ins[1])  # [out, h, w, in]
            bias = const(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            layer = keras.layers.Conv2D(
                kernel.shape[0], kernel.shape[1:3], strides=(o.StrideH(), o.StrideW()),
                padding=_padding(o.Padding()), dilation_rate=(o.DilationHFactor(), o.DilationWFactor()),
                activation=_activation(o.FusedActivationFunction(), op_name),
                use_bias=bias is not None, name=layer_name)
            y = layer(x)
            layer.set_weights([kernel.transpose(1, 2, 3, 0)] + ([bias] if bias is not None else []))
        elif op_name == "DEPTHWISE_CONV_2D":
            o = _options(tflite, op, "DepthwiseConv2DOptions")
            kernel = const(ins[1])  # [1, h, w, in * multiplier]
            bias = const(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            channels = int(x.shape[-1])
            multiplier = kernel.shape[3] // channels
            layer = keras.layers.DepthwiseConv2D(
                kernel.shape[1:3], strides=(o.StrideH(), o.StrideW()), padding=_padding(o.Padding()),
                depth_multiplier=multiplier, dilation_rate=(o.DilationHFactor(), o.DilationWFactor()),
                activation=_activation(o.FusedActivationFunction(), op_name),
                use_bias=bias is not None, name=layer_name)
            y = layer(x)
            layer.set_weights([kernel.reshape(*kernel.shape[1:3], channels, multiplier)]
                              + ([bias] if bias is not None else []))
        elif op_name == "ADD":
            o = _options(tflite, op, "AddOptions")
            other = values.get(ins[1])
            if other is None:
                raise ValueError(f"op {k} (ADD) with a constant operand is not supported")
            y = keras.layers.Add(name=layer_name)([x, other])
            activation = _activation(o.FusedActivationFunction(), op_name)
            if activation:
                y = keras.layers.Activation(activation, name=f"{layer_name}_act")(y)
        elif op_name == "RESHAPE":
            target = [int(d) for d in graph.Tensors(outs[0]).ShapeAsNumpy()]
            y = keras.layers.Reshape(tuple(target[1:]), name=layer_name)(x)
        elif op_name == "CONCATENATION":
            o = _options(tflite, op, "ConcatenationOptions")
            axis = o.Axis()
            if axis == 0:
                raise ValueError(f"op {k} (CONCATENATION) along the batch axis is not supported")
            y = keras.layers.Concatenate(axis=axis, name=layer_name)([values[i] for i in ins])
            activation = _activation(o.FusedActivationFunction(), op_name)
            if activation:
                y = keras.layers.Activation(activation, name=f"{layer_name}_act")(y)
        elif op_name in ("LOGISTIC", "RELU", "RELU6"):
            activation = {"LOGISTIC": "sigmoid", "RELU": "relu", "RELU6": "relu6"}[op_name]
            y = keras.layers.Activation(activation, name=layer_name)(x)
        else:  # pooling
            o = _options(tflite, op, "Pool2DOptions")
            pool = keras.layers.AveragePooling2D if op_name == "AVERAGE_POOL_2D" else keras.layers.MaxPooling2D
            y = pool((o.FilterHeight(), o.FilterWidth()), strides=(o.StrideH(), o.StrideW()),
                     padding=_padding(o.Padding()), name=layer_name)(x)
            activation = _activation(o.FusedActivationFunction(), op_name)
            if activation:
                y = keras.layers.Activation(activation, name=f"{layer_name}_act")(y)
        values[outs[0]] = y

    output_ids = list(graph.OutputsAsNumpy())
    missing = [tensor_name(i) for i in output_ids if i not in values]
    if missing:
        raise ValueError(f"outputs {missing} are constants or were never computed")
    outputs = [values[i] for i in output_ids]
    model = keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs, name=name)
    return model, [tensor_name(i) for i in output_ids]
