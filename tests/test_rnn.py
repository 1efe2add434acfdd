"""The recurrent classifier: shapes, packing (batch = rows alone), padding never read, registry."""

import pytest
import torch

from classifykit.models.registry import create_model
from classifykit.models.rnn import RNNClassifier


def _batch(lengths, vocab=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    ids = torch.randint(2, vocab, (len(lengths), int(lengths.max())), generator=g)
    ids[torch.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 0
    return ids, lengths


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_batch_predictions_equal_each_row_alone(cell, pooling, bidirectional):
    torch.manual_seed(0)
    model = RNNClassifier(3, 40, embed_dim=8, hidden_size=6, num_layers=2, bidirectional=bidirectional,
                          cell=cell, pooling=pooling).eval()
    ids, lengths = _batch([5, 1, 7, 3, 7])
    with torch.no_grad():
        batch = model(ids, lengths)
        alone = torch.cat([model(ids[i:i + 1, :lengths[i]], lengths[i:i + 1]) for i in range(len(lengths))])
    assert batch.shape == (5, 3)
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=0)


def test_pad_positions_are_never_read():
    torch.manual_seed(0)
    model = RNNClassifier(2, 40, embed_dim=8, hidden_size=6).eval()
    ids, lengths = _batch([4, 2])
    garbage = ids.clone()
    garbage[1, 2:] = 39  # change only what lies beyond row 1's length
    with torch.no_grad():
        torch.testing.assert_close(model(ids, lengths), model(garbage, lengths), atol=0, rtol=0)


def test_last_pooling_is_both_final_states():
    torch.manual_seed(0)
    model = RNNClassifier(2, 40, embed_dim=8, hidden_size=6).eval()
    ids, lengths = _batch([3])
    with torch.no_grad():
        feats = model.features(ids, lengths)
        out, _ = model.rnn(model.embedding(ids))
    # forward direction ends at the last token; backward direction ends at the first
    torch.testing.assert_close(feats[0, :6], out[0, -1, :6])
    torch.testing.assert_close(feats[0, 6:], out[0, 0, 6:])


def test_registry_and_padding_row():
    model = create_model("gru", num_classes=4, vocab_size=30, embed_dim=5, hidden_size=7)
    assert model.model_name == "gru" and model.classifier_name == "fc"
    assert model.fc.out_features == 4 and model.fc.in_features == 14
    assert model.embedding.weight[0].abs().sum().item() == 0.0
    with pytest.raises(ValueError, match="pooling must be one of"):
        RNNClassifier(2, 10, pooling="attention")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "max"])
@pytest.mark.parametrize("bidirectional,num_layers", [(True, 1), (True, 2), (False, 2)])
def test_reversed_engine_equals_packed_in_outputs_and_gradients(cell, pooling, bidirectional, num_layers):
    torch.manual_seed(0)
    model = RNNClassifier(3, 40, embed_dim=8, hidden_size=6, num_layers=num_layers, bidirectional=bidirectional,
                          cell=cell, dropout=0.0, pooling=pooling).train()
    ids, lengths = _batch([5, 1, 7, 3, 7, 2])
    results = {}
    for engine in ("packed", "reversed"):
        model.engine = engine
        model.zero_grad()
        out = model(ids, lengths)
        out.square().sum().backward()
        results[engine] = (out.detach(), [p.grad.clone() for p in model.parameters()])
    torch.testing.assert_close(results["reversed"][0], results["packed"][0], atol=1e-6, rtol=0)
    for got, want in zip(results["reversed"][1], results["packed"][1]):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    assert not any(k.startswith("_cells") for k in model.state_dict())


def test_reverse_valid_reverses_only_the_valid_prefix():
    from classifykit.models.rnn import at_last_valid, reverse_valid

    x = torch.arange(8.0).reshape(2, 4, 1)  # rows [0 1 2 3], [4 5 6 7]
    lengths = torch.tensor([3, 1])
    assert reverse_valid(x, lengths)[..., 0].tolist() == [[2, 1, 0, 3], [4, 5, 6, 7]]
    torch.testing.assert_close(reverse_valid(reverse_valid(x, lengths), lengths), x)
    assert at_last_valid(x, lengths)[:, 0].tolist() == [2, 4]


def test_engine_choice_cpu_default_and_tracing():
    model = RNNClassifier(2, 40, embed_dim=8, hidden_size=6)
    assert model._engine_for(torch.device("cpu")) == "reversed"
    assert model._engine_for(torch.device("cuda")) == "packed"
    model.engine = "sideways"
    with pytest.raises(ValueError, match="engine must be one of"):
        model._engine_for(torch.device("cpu"))


def test_engine_templates_take_no_memory_and_no_random_draws():
    torch.manual_seed(0)
    model = RNNClassifier(2, 40, embed_dim=8, hidden_size=6, num_layers=2)
    after = torch.rand(1)
    torch.manual_seed(0)
    nn_layers = (torch.nn.Embedding(40, 8, padding_idx=0), torch.nn.LSTM(8, 6, num_layers=2, batch_first=True,
                 bidirectional=True, dropout=0.3), torch.nn.Linear(12, 2))
    assert torch.equal(torch.rand(1), after)  # the same draws as the three layers alone
    assert torch.equal(model.rnn.weight_hh_l1_reverse, nn_layers[1].weight_hh_l1_reverse)
    assert all(p.is_meta for cell in model._cells for p in cell.parameters())
