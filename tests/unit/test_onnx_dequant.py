"""Dynamically quantized convolutions turned back into float Conv nodes (core.onnx_dequant).

The quantized graphs are built here node by node in the two shapes onnxruntime's
``quantize_dynamic`` writes (and Kokoro-82M's graph has): with the bias added in int32 before the
rescale, and without a bias.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from facespeak.core.onnx_dequant import dequantize_conv_integer  # noqa: E402


def _quantized_conv_graph(weight: np.ndarray, bias: np.ndarray | None) -> onnx.ModelProto:
    w_scale = np.float32(np.abs(weight).max() / 127.0)
    w_zp = np.uint8(128)
    w_q = np.clip(np.round(weight / w_scale) + 128, 0, 255).astype(np.uint8)
    inits = [numpy_helper.from_array(w_q, "w_q"), numpy_helper.from_array(np.array(w_zp), "w_zp"),
             numpy_helper.from_array(np.array(w_scale), "w_scale")]
    k = weight.shape[-1]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["x_q", "x_scale", "x_zp"]),
        helper.make_node("ConvInteger", ["x_q", "w_q", "x_zp", "w_zp"], ["acc"], pads=[k // 2, k // 2]),
        helper.make_node("Mul", ["x_scale", "w_scale"], ["scale"]),
    ]
    if bias is not None:  # int32 bias = floor(bias / scale), added before the rescale
        inits += [numpy_helper.from_array(bias.astype(np.float32), "bias"),
                  numpy_helper.from_array(np.array([1, -1, 1], np.int64), "bias_shape")]
        nodes += [helper.make_node("Div", ["bias", "scale"], ["bias_div"]),
                  helper.make_node("Floor", ["bias_div"], ["bias_floor"]),
                  helper.make_node("Cast", ["bias_floor"], ["bias_int"], to=TensorProto.INT32),
                  helper.make_node("Reshape", ["bias_int", "bias_shape"], ["bias_r"]),
                  helper.make_node("Add", ["acc", "bias_r"], ["acc_b"]),
                  helper.make_node("Cast", ["acc_b"], ["acc_f"], to=TensorProto.FLOAT)]
    else:
        nodes.append(helper.make_node("Cast", ["acc"], ["acc_f"], to=TensorProto.FLOAT))
    nodes += [helper.make_node("Mul", ["acc_f", "scale"], ["conv"]),
              helper.make_node("LeakyRelu", ["conv"], ["y"], alpha=0.2)]
    graph = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, weight.shape[1], None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, None])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _reference(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    k = weight.shape[-1]
    xp = np.pad(x[0], ((0, 0), (k // 2, k // 2)))
    out = np.stack([sum(np.convolve(xp[i], weight[o, i][::-1], "valid") for i in range(x.shape[1]))
                    for o in range(weight.shape[0])])
    out = out + (bias[:, None] if bias is not None else 0)
    return np.where(out > 0, out, 0.2 * out)[None]


@pytest.mark.parametrize("with_bias", [True, False])
def test_quantized_conv_becomes_a_float_conv_with_the_int8_weights(with_bias: bool) -> None:
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(6, 4, 5)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32) if with_bias else None
    x = rng.normal(size=(1, 4, 50)).astype(np.float32)
    model = _quantized_conv_graph(weight, bias)
    quantized = _run(model, x)
    model, n = dequantize_conv_integer(model)
    ops = [node.op_type for node in model.graph.node]
    assert n == 1 and ops == ["Conv", "LeakyRelu"], ops
    onnx.checker.check_model(model)
    got, reference = _run(model, x), _reference(x, weight, bias)
    # int8 weights only: close to the float convolution, closer than the fully quantized graph
    scale = np.abs(reference).max()
    assert np.abs(got - reference).max() < 0.02 * scale
    assert np.abs(got - reference).max() < np.abs(quantized - reference).max()


def test_graphs_without_quantized_convs_are_left_alone() -> None:
    weight = np.ones((2, 2, 3), np.float32)
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1])], "f",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model, n = dequantize_conv_integer(model)
    assert n == 0 and [node.op_type for node in model.graph.node] == ["Conv"]
