"""Tests of the LSTM-FCN model (Karim et al. 2018)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ecg_course.models.layers import ChannelsLastConv1d, ConvBlock, same_padding
from ecg_course.models.lstm_fcn import HPARAM_NAMES, LSTMFCN


def _expected_parameters(
    num_classes=5,
    seq_len=187,
    in_channels=1,
    num_layers=1,
    hidden=128,
    f1=128,
    f2=256,
    f3=128,
    k1=8,
    k2=5,
    k3=3,
):
    """Parameter count from the layer formulas, written out by hand."""
    # nn.LSTM layer: 4 gates x (W_ih: hidden x input, W_hh: hidden x hidden, b_ih, b_hh)
    lstm = 4 * (hidden * seq_len + hidden * hidden + 2 * hidden)
    lstm += (num_layers - 1) * 4 * (hidden * hidden + hidden * hidden + 2 * hidden)
    # Conv1d: c_out x c_in x k weights + c_out biases; BatchNorm1d: weight + bias per channel
    conv = (f1 * in_channels * k1 + f1) + (f2 * f1 * k2 + f2) + (f3 * f2 * k3 + f3)
    bn = 2 * (f1 + f2 + f3)
    fc = (hidden + f3) * num_classes + num_classes
    return lstm + conv + bn + fc


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_default_parameter_count_matches_hand_formula():
    model = LSTMFCN()
    # written out for the defaults: 162,304 (LSTM) + 263,680 (conv) + 1,024 (BN) + 1,285 (fc)
    assert 4 * (128 * 187 + 128 * 128 + 2 * 128) == 162_304
    assert _expected_parameters() == 162_304 + 263_680 + 1_024 + 1_285 == 428_293
    assert _count(model) == 428_293


@pytest.mark.parametrize("shape", [(4, 187), (4, 187, 1)])
def test_output_shape_for_both_input_layouts(shape):
    torch.manual_seed(0)
    model = LSTMFCN().eval()
    x = torch.rand(shape)
    logits = model(x)
    assert logits.shape == (4, 5)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_both_layouts_give_the_same_logits():
    torch.manual_seed(0)
    model = LSTMFCN().eval()
    x = torch.rand(3, 187)
    torch.testing.assert_close(model(x), model(x.unsqueeze(-1)))


def test_dimension_shuffle_lstm_sees_one_step_of_seq_len_features():
    model = LSTMFCN(seq_len=50)
    assert model.lstm.input_size == 50
    seen = {}
    model.lstm.register_forward_hook(lambda m, inp, out: seen.update(shape=inp[0].shape))
    model.eval()(torch.rand(2, 50))
    assert seen["shape"] == (2, 1, 50)  # (B, one time step, T features)


def test_without_shuffle_lstm_runs_over_time():
    model = LSTMFCN(seq_len=50, shuffle=False).eval()
    assert model.lstm.input_size == 1
    assert model(torch.rand(2, 70)).shape == (2, 5)  # any length works


@pytest.mark.parametrize("channels_last", [True, False])
def test_hyperparameters_are_honoured(channels_last):
    kwargs = {
        "channels_last": channels_last,
        "num_classes": 3,
        "seq_len": 64,
        "num_layers": 2,
        "hidden_size": 16,
        "dropout": 0.3,
        "filters_1": 8,
        "filters_2": 12,
        "filters_3": 6,
        "kernel_size_1": 7,
        "kernel_size_2": 4,
        "kernel_size_3": 2,
    }
    model = LSTMFCN(**kwargs)
    assert model.lstm.hidden_size == 16 and model.lstm.num_layers == 2
    assert model.lstm.input_size == 64
    assert model.lstm_dropout.p == 0.3
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (1, 8, 7),
        (8, 12, 4),
        (12, 6, 2),
    ]
    # channels-last maps are (B, C, 1, T): BatchNorm2d normalizes each channel over batch
    # and time, as BatchNorm1d does over the plain (B, C, T) maps
    norm = nn.BatchNorm2d if channels_last else nn.BatchNorm1d
    assert [type(m) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)] == [
        norm
    ] * 3
    assert model.hparams["channels_last"] is channels_last
    assert (model.fc.in_features, model.fc.out_features) == (16 + 6, 3)
    assert _count(model) == _expected_parameters(
        num_classes=3, seq_len=64, num_layers=2, hidden=16, f1=8, f2=12, f3=6, k1=7, k2=4, k3=2
    )
    assert model.eval()(torch.rand(5, 64)).shape == (5, 3)
    # "same" padding keeps the length, for even and odd kernels
    assert model.class_activation_map(torch.rand(5, 64)).shape == (5, 3, 64)


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("in_channels, kernels", [(1, (8, 5, 3)), (2, (7, 4, 2))])
def test_conv_branch_equals_plain_conv1d_batchnorm1d(training, in_channels, kernels, channels_last):
    """The conv branch computes what Conv1d -> BatchNorm1d -> ReLU computes, in both layouts."""
    torch.manual_seed(0)
    model = LSTMFCN(
        channels_last=channels_last,
        seq_len=40,
        in_channels=in_channels,
        filters_1=6,
        filters_2=10,
        filters_3=4,
        kernel_size_1=kernels[0],
        kernel_size_2=kernels[1],
        kernel_size_3=kernels[2],
    )
    for block in (model.conv1, model.conv2, model.conv3):  # non-trivial running statistics
        block[2].running_mean.uniform_(-0.5, 0.5)
        block[2].running_var.uniform_(0.5, 2.0)
        block[2].weight.data.uniform_(0.5, 1.5)
        block[2].bias.data.uniform_(-0.5, 0.5)
    model.train(training)
    x = torch.rand(5, 40, in_channels)

    reference = x.transpose(1, 2)  # (B, C, T), contiguous-first as nn.Conv1d wants
    for block in (model.conv1, model.conv2, model.conv3):
        pad, conv, bn, _ = block
        k = conv.kernel_size[0]
        reference = F.conv1d(F.pad(reference, ((k - 1) // 2, k // 2)), conv.weight, conv.bias)
        reference = F.relu(
            F.batch_norm(
                reference,
                bn.running_mean.clone(),
                bn.running_var.clone(),
                bn.weight,
                bn.bias,
                training,
                0.0,
                bn.eps,
            )
        )
    torch.testing.assert_close(model._conv_features(x), reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}, {"padding": "same"}],
)
def test_channels_last_conv1d_equals_conv1d(kwargs):
    torch.manual_seed(0)
    layer = ChannelsLastConv1d(4, 6, 3, **kwargs)
    plain = nn.Conv1d(4, 6, 3, **kwargs)
    plain.load_state_dict(layer.state_dict())  # same parameters, same shapes
    x = torch.rand(2, 4, 30)
    maps = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(layer(maps).squeeze(2), plain(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, C, 1, T\); got \(2, 4, 30\)"):
        layer(x)
    with pytest.raises(ValueError, match="padding_mode='reflect'"):
        ChannelsLastConv1d(4, 6, 3, padding=1, padding_mode="reflect")


@pytest.mark.parametrize("kernel_size", [8, 5, 3, 2, 1])
def test_same_padding_keeps_the_length_as_keras_does(kernel_size):
    """Keras's "same": kernel_size - 1 zeros, the extra one on the right for an even kernel,
    which is also what nn.Conv1d(padding="same") adds."""
    left, right = same_padding(kernel_size)
    assert left + right == kernel_size - 1 and right - left in (0, 1)
    torch.manual_seed(0)
    plain = nn.Conv1d(3, 4, kernel_size)
    x = torch.rand(2, 3, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns that an even kernel needs a copy
        expected = F.conv1d(x, plain.weight, plain.bias, padding="same")
    torch.testing.assert_close(plain(F.pad(x, (left, right))), expected)
    assert same_padding(8) == (3, 4) and same_padding(5) == (2, 2)


@pytest.mark.parametrize("channels_last", [True, False])
def test_conv_block_is_conv1d_batchnorm_relu_on_b_c_t_maps(channels_last):
    torch.manual_seed(0)
    block = ConvBlock(3, 6, 8, channels_last=channels_last)
    pad, conv, norm, relu = block
    assert isinstance(conv, nn.Conv1d) and conv.weight.shape == (6, 3, 8)
    assert isinstance(norm, nn.BatchNorm2d if channels_last else nn.BatchNorm1d)
    assert isinstance(conv, ChannelsLastConv1d) is channels_last
    assert isinstance(relu, nn.ReLU) and pad.padding == (3, 4)
    x = torch.rand(5, 3, 30)
    out = block.eval()(x)
    assert out.shape == (5, 6, 30)
    convolved = F.conv1d(F.pad(x, (3, 4)), conv.weight, conv.bias)
    statistics = (norm.running_mean, norm.running_var, norm.weight, norm.bias)
    expected = F.relu(F.batch_norm(convolved, *statistics))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    if channels_last:  # channels innermost in memory: the next block reads it without a copy
        assert out.stride() == (6 * 30, 1, 6)
    with pytest.raises(ValueError, match=r"ConvBlock expects maps of shape \(B, C, T\); got"):
        block(x.unsqueeze(2))


def _twin_models(**kwargs) -> tuple[LSTMFCN, LSTMFCN]:
    """A channels-last LSTM-FCN and a plain one holding the same weights and statistics."""
    torch.manual_seed(0)
    channels_last = LSTMFCN(channels_last=True, **kwargs)
    for block in (channels_last.conv1, channels_last.conv2, channels_last.conv3):
        block[2].running_mean.uniform_(-0.5, 0.5)  # non-trivial running statistics
        block[2].running_var.uniform_(0.5, 2.0)
    plain = LSTMFCN(channels_last=False, **kwargs)
    plain.load_state_dict(channels_last.state_dict())  # strict: same names and shapes
    return channels_last, plain


@pytest.mark.parametrize("training", [True, False])
def test_both_memory_layouts_compute_the_same_logits_and_gradients(training):
    channels_last, plain = _twin_models(seq_len=60, hidden_size=16, filters_1=8, filters_2=16,
                                        filters_3=8, dropout=0.0)  # fmt: skip
    x, y = torch.rand(6, 60), torch.randint(0, 5, (6,))
    logits = {}
    for name, model in (("channels_last", channels_last), ("plain", plain)):
        model.train(training)
        logits[name] = model(x)
        F.cross_entropy(logits[name], y).backward()
    torch.testing.assert_close(logits["channels_last"], logits["plain"], rtol=1e-5, atol=1e-5)
    plain_parameters = dict(plain.named_parameters())
    for name, parameter in channels_last.named_parameters():
        torch.testing.assert_close(parameter.grad, plain_parameters[name].grad,
                                   rtol=1e-4, atol=1e-5, msg=name)  # fmt: skip
    # in training mode both updated the same running statistics
    plain_state = plain.state_dict()
    for name, tensor in channels_last.state_dict().items():
        torch.testing.assert_close(tensor, plain_state[name], rtol=1e-5, atol=1e-6, msg=name)
    cams = [m.eval().class_activation_map(x) for m in (channels_last, plain)]
    torch.testing.assert_close(cams[0], cams[1], rtol=1e-5, atol=1e-5)


# The state dict of LSTMFCN(**SMALL_SHAPES) as the class saved it before ConvBlock, when its
# conv blocks were nn.Sequential(pad, conv, batch norm, ReLU): names and shapes, in order.
SMALL_SHAPES = dict(num_classes=3, seq_len=12, hidden_size=3, filters_1=2, filters_2=4,
                    filters_3=2, kernel_size_1=4, kernel_size_2=3, kernel_size_3=2)  # fmt: skip
SAVED_STATE_DICT_SHAPES = {
    "lstm.weight_ih_l0": (12, 12), "lstm.weight_hh_l0": (12, 3),
    "lstm.bias_ih_l0": (12,), "lstm.bias_hh_l0": (12,),
    "conv1.1.weight": (2, 1, 4), "conv1.1.bias": (2,),
    "conv1.2.weight": (2,), "conv1.2.bias": (2,), "conv1.2.running_mean": (2,),
    "conv1.2.running_var": (2,), "conv1.2.num_batches_tracked": (),
    "conv2.1.weight": (4, 2, 3), "conv2.1.bias": (4,),
    "conv2.2.weight": (4,), "conv2.2.bias": (4,), "conv2.2.running_mean": (4,),
    "conv2.2.running_var": (4,), "conv2.2.num_batches_tracked": (),
    "conv3.1.weight": (2, 4, 2), "conv3.1.bias": (2,),
    "conv3.2.weight": (2,), "conv3.2.bias": (2,), "conv3.2.running_mean": (2,),
    "conv3.2.running_var": (2,), "conv3.2.num_batches_tracked": (),
    "fc.weight": (3, 5), "fc.bias": (3,),
}  # fmt: skip


@pytest.mark.parametrize("channels_last", [True, False])
def test_state_dicts_saved_before_conv_block_still_load(channels_last):
    """Saved models (see ecg_course.artifact) keep loading: the names and shapes of the
    weights are those of the class before ConvBlock, in both layouts."""
    model = LSTMFCN(channels_last=channels_last, **SMALL_SHAPES)
    shapes = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    assert shapes == SAVED_STATE_DICT_SHAPES
    assert list(shapes) == list(SAVED_STATE_DICT_SHAPES)
    generator = torch.Generator().manual_seed(0)
    saved = {name: torch.rand(shape, generator=generator) + 0.5
             for name, shape in SAVED_STATE_DICT_SHAPES.items()}  # fmt: skip
    saved.update({name: torch.tensor(7) for name in saved if name.endswith("num_batches_tracked")})
    model.load_state_dict(saved)  # strict
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, saved[name].to(tensor.dtype), msg=name)
    assert model.eval()(torch.rand(2, 12)).shape == (2, 3)


def test_dropout_active_only_in_training():
    torch.manual_seed(0)
    model = LSTMFCN(seq_len=32, hidden_size=8, filters_1=4, filters_2=4, filters_3=4)
    x = torch.rand(6, 32)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    assert not torch.allclose(model(x), model(x))


@pytest.mark.parametrize("channels_last", [True, False])
def test_class_activation_map_shape_and_meaning(channels_last):
    torch.manual_seed(0)
    model = LSTMFCN(channels_last=channels_last).eval()
    x = torch.rand(3, 187)
    cam = model.class_activation_map(x)
    assert cam.shape == (3, 5, 187)
    # Averaged over time, the CAM is the conv branch's part of the logits:
    # logits = W_lstm h + W_conv GAP(F) + b  and  mean_t CAM = W_conv GAP(F).
    with torch.no_grad():
        _, (h_n, _) = model.lstm(x.unsqueeze(1))
        lstm_part = h_n[-1] @ model.fc.weight[:, :128].T + model.fc.bias
    torch.testing.assert_close(cam.mean(dim=-1) + lstm_part, model(x), rtol=1e-4, atol=1e-4)
    assert model.class_activation_map(x.unsqueeze(-1)).shape == (3, 5, 187)


def test_trains_one_step():
    torch.manual_seed(0)
    model = LSTMFCN(seq_len=40, hidden_size=8, filters_1=4, filters_2=8, filters_3=4)
    x, y = torch.rand(8, 40), torch.randint(0, 5, (8,))
    before = model.fc.weight.detach().clone()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert all(p.grad is not None for p in model.parameters())
    assert not torch.equal(before, model.fc.weight)


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.rand(4), "shape"),
        (torch.rand(2, 187, 2), "shape"),
        (torch.rand(2, 1, 187, 1), "shape"),
        (torch.rand(2, 100), "length"),
        (torch.randint(0, 5, (2, 187)), "floating-point"),
        (torch.rand(0, 187), "Empty"),
        (np.zeros((2, 187), dtype=np.float32), "torch.Tensor"),
    ],
)
def test_bad_inputs_raise_clear_errors(x, message):
    model = LSTMFCN()
    with pytest.raises(ValueError, match=message):
        model(x)
    with pytest.raises(ValueError, match=message):
        model.class_activation_map(x)


@pytest.mark.parametrize(("value", "kind"), [(float("nan"), "NaN"), (-float("inf"), "inf")])
def test_beats_with_nan_or_inf_are_refused_naming_the_row(value, kind):
    """Called directly, the model refuses a NaN beat as predict_proba does (NaN scores
    would argmax to class 0, normal), in forward and in the class activation maps."""
    model = LSTMFCN(seq_len=40, hidden_size=8, filters_1=4, filters_2=8, filters_3=4).eval()
    x = torch.rand(3, 40)
    x[1, 7] = value
    with pytest.raises(ValueError, match=rf"x\[1\] contains {kind}"):
        model(x)
    with pytest.raises(ValueError, match=rf"x\[1\] contains {kind}"):
        model.class_activation_map(x)
    with_side = LSTMFCN(seq_len=40, hidden_size=8, filters_1=4, filters_2=8, filters_3=4,
                        side_features=3, side_hidden=5).eval()  # fmt: skip
    side = torch.rand(3, 3)
    side[2, 0] = value
    with pytest.raises(ValueError, match=rf"side\[2\] contains {kind}"):
        with_side(torch.rand(3, 40), side)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 0}, "num_classes must be a positive integer, got 0"),
        ({"hidden_size": -1}, "hidden_size must be a positive integer, got -1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"kernel_size_1": 2.5}, "kernel_size_1 must be a positive integer, got 2.5"),
        ({"side_hidden": 0}, "side_hidden must be a positive integer, got 0"),
        ({"side_features": -1}, "side_features must be an integer >= 0, got -1"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LSTMFCN(**kwargs)


def test_hparams_are_the_constructor_arguments_by_the_names_listed_once():
    model = LSTMFCN(num_classes=3, seq_len=40, hidden_size=8, channels_last=False)
    assert tuple(model.hparams) == HPARAM_NAMES
    assert HPARAM_NAMES[:3] == ("num_classes", "seq_len", "in_channels")
    assert HPARAM_NAMES[-1] == "channels_last"
    assert model.hparams["num_classes"] == 3 and model.hparams["hidden_size"] == 8
    assert model.hparams["kernel_size_1"] == 8  # a default is recorded too
    assert LSTMFCN(**model.hparams).hparams == model.hparams


def test_side_features_shapes_and_parameter_count():
    """Chapter 3's model: F side features per beat, joined before the final layer."""
    torch.manual_seed(0)
    model = LSTMFCN(num_classes=4, side_features=8, side_hidden=32).eval()
    x, side = torch.rand(6, 187), torch.rand(6, 8)
    assert model(x, side).shape == (6, 4)
    assert model(x.unsqueeze(-1), side).shape == (6, 4)
    plain = _expected_parameters(num_classes=4)
    # side block: BatchNorm1d(8) weight + bias, Linear(8, 32); the final layer reads 32 more
    extra = 2 * 8 + (8 * 32 + 32) + 32 * 4
    assert _count(model) == plain + extra
    assert LSTMFCN(**model.hparams).hparams == model.hparams


def test_side_features_change_the_logits_and_receive_gradients():
    torch.manual_seed(0)
    model = LSTMFCN(num_classes=4, seq_len=40, hidden_size=8, filters_1=4, filters_2=8,
                    filters_3=4, side_features=3, side_hidden=5)  # fmt: skip
    x, side = torch.rand(8, 40), torch.rand(8, 3)
    model.eval()
    assert not torch.allclose(model(x, side), model(x, side + 1.0))
    model.train()
    nn.functional.cross_entropy(model(x, side), torch.randint(0, 4, (8,))).backward()
    assert all(p.grad is not None for p in model.side.parameters())
    # the class activation maps still read the conv columns of the final layer
    assert model.eval().class_activation_map(x).shape == (8, 4, 40)


@pytest.mark.parametrize(
    ("side_features", "side", "message"),
    [
        (8, None, "model\\(x, side\\)"),
        (8, torch.rand(6, 7), "shape \\(B, 8\\)"),
        (8, torch.rand(5, 8), "B = 6"),
        (0, torch.rand(6, 8), "reads no side features"),
    ],
)
def test_side_feature_errors_name_what_was_expected(side_features, side, message):
    model = LSTMFCN(side_features=side_features)
    with pytest.raises(ValueError, match=message):
        model(torch.rand(6, 187), side)
